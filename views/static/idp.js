// Served by the IdP (no inline script): idle countdown, live password requirements,
// and forms that submit themselves (Please Wait, SAML and sign-out hand-offs).
(function () {
  'use strict';

  function countdown() {
    var counter = document.querySelector('[data-idle-seconds]');
    if (!counter) return;
    var deadline = Date.now() + Number(counter.getAttribute('data-idle-seconds')) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      var m = Math.floor(left / 60);
      var s = String(left % 60).padStart(2, '0');
      counter.textContent = left > 0 ? '(' + m + ':' + s + ' left)' : '(timed out: please start again)';
      if (left > 0) setTimeout(tick, 1000);
    };
    tick();
  }

  // Mirrors the server's policy so the user sees each requirement met or unmet as they
  // type. The server re-checks everything; this only helps.
  function passwordChecklist() {
    var list = document.getElementById('requirements');
    var input = document.getElementById('newPassword');
    var confirm = document.getElementById('confirmPassword');
    var status = document.getElementById('match-status');
    if (!list || !input) return;
    var min = Number(list.dataset.minLength);
    var max = Number(list.dataset.maxLength);
    var minTypes = Number(list.dataset.minTypes);
    var parts = (list.dataset.nameParts || '').split('\n').filter(Boolean);
    var symbol = /[^\p{L}\p{N}]/u;
    var checks = {
      PWD_MIN_LENGTH: function (p) { return Array.from(p).length >= min; },
      PWD_MAX_LENGTH: function (p) { return Array.from(p).length <= max; },
      PWD_FIRST_CHAR: function (p) { return p.length > 0 && !symbol.test(Array.from(p)[0]); },
      PWD_CHAR_TYPES: function (p) {
        var n = 0;
        if (/\p{Lu}/u.test(p)) n++;
        if (/\p{Ll}/u.test(p)) n++;
        if (/\p{N}/u.test(p)) n++;
        if (symbol.test(p)) n++;
        return n >= minTypes;
      },
      PWD_NAME_PART: function (p) {
        var lower = p.toLocaleLowerCase('en');
        return p.length > 0 && !parts.some(function (part) { return lower.indexOf(part) !== -1; });
      }
    };
    var update = function () {
      var value = input.value;
      list.querySelectorAll('li[data-live]').forEach(function (li) {
        var check = checks[li.getAttribute('data-rule')];
        if (!check || value === '') { li.classList.remove('met', 'unmet'); return; }
        var ok = check(value);
        li.classList.toggle('met', ok);
        li.classList.toggle('unmet', !ok);
      });
      if (status && confirm) {
        status.textContent = confirm.value && confirm.value !== value ? 'Passwords do not match.' : '';
      }
    };
    input.addEventListener('input', update);
    if (confirm) confirm.addEventListener('input', update);
  }

  // "form": after a moment (Please Wait shows its progress); "now": hand-offs to an
  // application or another step (SAML posts, sign-out), each with a visible button too.
  function autosubmit() {
    var form = document.querySelector('form[data-autosubmit="form"]');
    if (form) setTimeout(function () { form.submit(); }, 600);
    var now = document.querySelector('form[data-autosubmit="now"]');
    if (now) now.submit();
  }

  document.addEventListener('DOMContentLoaded', function () {
    countdown();
    passwordChecklist();
    autosubmit();
  });
})();

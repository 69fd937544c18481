// Served by the IdP (no inline script): idle countdown, live password requirements,
// and forms that submit themselves (Please Wait, SAML and sign-out hand-offs).
(function () {
  'use strict';

  // The idle countdown: shown as m:ss (not announced every second); screen readers hear
  // the thresholds the page lists (data-at-N on #idle-status). Before the end a visible
  // warning offers "Stay on this page", which re-arms the flow on the server and keeps
  // what was typed.
  function countdown() {
    var counter = document.querySelector('[data-idle-seconds]');
    if (!counter) return;
    var idle = Number(counter.getAttribute('data-idle-seconds'));
    var status = document.getElementById('idle-status');
    var warning = document.getElementById('idle-warning');
    var stay = document.getElementById('idle-stay');
    var keepAlive = counter.getAttribute('data-keep-alive');
    var warnAt = Math.min(60, Math.floor(idle / 2));
    var deadline = Date.now() + idle * 1000;
    var announced = {};
    var timer;
    var tick = function () {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      counter.textContent = left > 0 ? '(' + Math.floor(left / 60) + ':' + String(left % 60).padStart(2, '0') + ')' : '(' + counter.getAttribute('data-expired') + ')';
      if (status) {
        [120, 60, 30].forEach(function (at) {
          var words = status.getAttribute('data-at-' + at);
          if (words && left <= at && left > 0 && !announced[at]) { announced[at] = true; status.textContent = words; }
        });
        if (left === 0 && !announced[0]) { announced[0] = true; status.textContent = counter.getAttribute('data-expired'); }
      }
      if (warning && keepAlive) warning.hidden = !(left > 0 && left <= warnAt);
      if (left > 0) timer = setTimeout(tick, 1000);
    };
    if (stay && keepAlive) {
      stay.addEventListener('click', function () {
        var token = document.querySelector('input[name="_csrf"]');
        var body = new URLSearchParams();
        if (token) body.set('_csrf', token.value);
        fetch(keepAlive, { method: 'POST', body: body, credentials: 'same-origin' }).then(function (res) {
          if (!res.ok) return;
          // A flow that is only a sealed reference answers with its new one: forms move to it.
          if (res.status === 200) {
            return res.json().then(function (answer) {
              var from = keepAlive.split('/')[2];
              document.querySelectorAll('form[action^="/flow/' + from + '/"]').forEach(function (form) {
                form.setAttribute('action', form.getAttribute('action').replace('/flow/' + from + '/', '/flow/' + answer.flow + '/'));
              });
              keepAlive = '/flow/' + answer.flow + '/keep-alive';
              counter.setAttribute('data-keep-alive', keepAlive);
              return res;
            });
          }
          return res;
        }).then(function (res) {
          if (!res || !res.ok) return;
          deadline = Date.now() + idle * 1000;
          announced = {};
          if (status) status.textContent = '';
          clearTimeout(timer);
          tick();
          var first = document.querySelector('main input:not([type=hidden]), main select');
          if (first) first.focus();
        });
      });
    }
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
        var state = li.querySelector('.state');
        if (!check || value === '') { li.classList.remove('met', 'unmet'); if (state) state.textContent = ''; return; }
        var ok = check(value);
        li.classList.toggle('met', ok);
        li.classList.toggle('unmet', !ok);
        // The mark is CSS; its meaning is text too (read with the item, not announced on each key).
        if (state) state.textContent = ' (' + list.getAttribute(ok ? 'data-met' : 'data-unmet') + ')';
      });
      if (status && confirm) {
        status.textContent = confirm.value && confirm.value !== value ? status.getAttribute('data-no-match') : '';
      }
    };
    input.addEventListener('input', update);
    if (confirm) confirm.addEventListener('input', update);
    return {
      update: update,
      /** The words of the live requirements the new password does not meet. */
      unmet: function () {
        var out = [];
        list.querySelectorAll('li[data-live]').forEach(function (li) {
          var check = checks[li.getAttribute('data-rule')];
          if (check && !check(input.value)) out.push(li.firstChild ? li.firstChild.textContent : li.textContent);
        });
        return out;
      }
    };
  }

  // Change Password without losing what was typed (progressive enhancement; without
  // script the form posts as before). A rule the page can check, or two different
  // passwords, are said before anything is sent, with both fields kept and the field at
  // fault focused. What only the server knows (an earlier, a common or the current
  // password) is sent as a plain form: its answer refuses the password both fields hold,
  // so both come back empty. The server never writes a password into a page.
  function changePassword(checklist) {
    var form = document.getElementById('change-password-form');
    var input = document.getElementById('newPassword');
    var confirm = document.getElementById('confirmPassword');
    if (!form || !input || !confirm || !checklist) return;
    var invalid = function (field, on) {
      if (on) field.setAttribute('aria-invalid', 'true'); else field.removeAttribute('aria-invalid');
      var ids = (field.getAttribute('aria-describedby') || '').split(' ').filter(function (id) { return id && id !== 'form-error'; });
      if (on) ids.push('form-error');
      if (ids.length) field.setAttribute('aria-describedby', ids.join(' ')); else field.removeAttribute('aria-describedby');
    };
    var showError = function (summary, fault) {
      var old = document.getElementById('form-error');
      if (old) old.remove();
      invalid(input, false);
      invalid(confirm, false);
      summary.id = 'form-error';
      form.parentNode.insertBefore(summary, form);
      invalid(fault, true);
      fault.focus();
    };
    var summaryOf = function (words, problems) {
      var box = document.createElement('div');
      box.className = 'alert';
      box.setAttribute('role', 'alert');
      var p = document.createElement('p');
      p.textContent = words;
      box.appendChild(p);
      if (problems.length) {
        var ul = document.createElement('ul');
        problems.forEach(function (text) { var li = document.createElement('li'); li.textContent = text; ul.appendChild(li); });
        box.appendChild(ul);
      }
      return box;
    };
    form.addEventListener('submit', function (event) {
      var unmet = checklist.unmet();
      var refuse = function (summary, fault) {
        event.preventDefault();
        showError(summary, fault);
      };
      if (!input.value || !confirm.value) return refuse(summaryOf(form.getAttribute('data-missing'), []), input.value ? confirm : input);
      if (unmet.length) return refuse(summaryOf(form.getAttribute('data-refused'), unmet), input);
      if (confirm.value !== input.value) return refuse(summaryOf(form.getAttribute('data-mismatch'), []), confirm);
      // Otherwise the form goes as it is.
    });
  }

  // "form": after a moment (Please Wait shows its progress); "now": hand-offs to an
  // application or another step (SAML posts, sign-out), each with a visible button too.
  function autosubmit() {
    var form = document.querySelector('form[data-autosubmit="form"]');
    if (form) setTimeout(function () { form.submit(); }, 600);
    var now = document.querySelector('form[data-autosubmit="now"]');
    if (now) now.submit();
    // "Please wait" (overload, spraying alarm): the same form again, or the same page, once the wait is over.
    var after = document.querySelector('form[data-autosubmit="after"]');
    if (after) setTimeout(function () { after.submit(); }, Number(after.getAttribute('data-after-seconds')) * 1000);
    var again = document.querySelector('a[data-autoload-after]');
    if (again) setTimeout(function () { window.location.assign(again.getAttribute('href')); }, Number(again.getAttribute('data-autoload-after')) * 1000);
  }

  // After a refused submit: focus goes to the first field in error (not <body>), and a
  // field's own error goes away once the field is changed (it no longer describes it).
  function fieldErrors() {
    var invalid = document.querySelectorAll('main [aria-invalid="true"]');
    if (invalid.length && document.activeElement === document.body) invalid[0].focus();
    invalid.forEach(function (field) {
      var clear = function () {
        field.removeAttribute('aria-invalid');
        (field.getAttribute('aria-describedby') || '').split(' ').forEach(function (id) {
          var error = id && document.getElementById(id);
          if (error && error.classList.contains('field-error')) error.hidden = true;
        });
      };
      field.addEventListener('input', clear, { once: true });
      field.addEventListener('change', clear, { once: true });
    });
  }

  // The chosen security question in full beneath its select (a phone cuts the select's text).
  function chosenQuestions() {
    document.querySelectorAll('.question-row select').forEach(function (select) {
      var shown = document.getElementById(select.id + '-chosen');
      if (!shown) return;
      var update = function () {
        var option = select.selectedIndex > 0 ? select.options[select.selectedIndex] : null;
        shown.textContent = option ? option.textContent : '';
        shown.hidden = !option;
      };
      select.addEventListener('change', update);
      update();
    });
  }

  // Sign-in slips: a Print button opens the browser's print dialog (the print stylesheet
  // keeps the slips only).
  function printButtons() {
    document.querySelectorAll('[data-print]').forEach(function (button) {
      button.addEventListener('click', function () { window.print(); });
    });
    // The import's result page: its file of passwords downloads once by itself.
    var download = document.querySelector('a[data-autodownload]');
    if (download) download.click();
  }

  document.addEventListener('DOMContentLoaded', function () {
    printButtons();
    fieldErrors();
    chosenQuestions();
    countdown();
    changePassword(passwordChecklist());
    autosubmit();
  });
})();

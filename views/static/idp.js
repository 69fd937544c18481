// Served by the IdP (no inline script): idle countdown and the sign-out hand-off.
(function () {
  'use strict';
  document.addEventListener('DOMContentLoaded', function () {
    var counter = document.querySelector('[data-idle-seconds]');
    if (counter) {
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
    var logout = document.querySelector('[data-autosubmit="true"]');
    if (logout) {
      var button = document.querySelector('button[form="op.logoutForm"]');
      if (button) button.click();
    }
  });
})();

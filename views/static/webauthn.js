// Passkeys (served by the IdP, no inline script): a form marked data-webauthn runs the
// browser's passkey prompt with the options the server put on it (one challenge, used
// once), puts the result in its "credential" field and posts. A cancelled or failed
// prompt posts an empty credential: the server says what happened on the next page.
(function () {
  'use strict';
  var lib = window.SimpleWebAuthnBrowser;
  document.querySelectorAll('form[data-webauthn]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var options = JSON.parse(form.getAttribute('data-webauthn-options'));
      var field = form.querySelector('input[name="credential"]');
      var ceremony = form.getAttribute('data-webauthn') === 'register'
        ? lib.startRegistration({ optionsJSON: options })
        : lib.startAuthentication({ optionsJSON: options });
      var button = form.querySelector('button[type="submit"]');
      if (button) button.disabled = true;
      ceremony
        .then(function (credential) { field.value = JSON.stringify(credential); })
        .catch(function () { field.value = ''; })
        .then(function () { HTMLFormElement.prototype.submit.call(form); });
    });
  });
})();

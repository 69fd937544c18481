// Sign in with a badge (served by the IdP, no inline script): "Sign in with my badge" opens
// the camera, reads QR codes from it (the browser's BarcodeDetector where it has one, else
// jsQR from /static/vendor) until one is a MIMS badge, puts it in the form's "badge" field and
// posts. Nothing leaves the page but that value; the camera stops before the post. Without a
// camera (or without script) the button stays hidden and the page is the password sign-in.
(function () {
  'use strict';
  var form = document.querySelector('form[data-badge]');
  if (!form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  var start = form.querySelector('[data-badge-start]');
  var scanner = form.querySelector('[data-badge-scanner]');
  var video = form.querySelector('video');
  var status = form.querySelector('[data-badge-status]');
  var failed = form.querySelector('[data-badge-failed]');
  var stop = form.querySelector('[data-badge-stop]');
  var field = form.querySelector('input[name="badge"]');
  var scanning = form.querySelector('template[data-badge-scanning]').innerHTML;
  var canvas = document.createElement('canvas');
  var context = canvas.getContext('2d', { willReadFrequently: true });
  var detector = null;
  var stream = null;
  var timer = null;
  if ('BarcodeDetector' in window) {
    try { detector = new window.BarcodeDetector({ formats: ['qr_code'] }); } catch (e) { detector = null; }
  }
  start.hidden = false;

  function end() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    video.srcObject = null;
  }
  function close() {
    end();
    scanner.hidden = true;
    start.hidden = false;
    start.focus();
  }
  function decode() {
    if (!stream || video.readyState < 2 || !video.videoWidth) return Promise.resolve(null);
    if (detector) {
      return detector.detect(video)
        .then(function (codes) { return codes.length ? codes[0].rawValue : null; })
        .catch(function () { detector = null; return null; });
    }
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    var image = context.getImageData(0, 0, canvas.width, canvas.height);
    var code = window.jsQR(image.data, image.width, image.height, { inversionAttempts: 'attemptBoth' });
    return Promise.resolve(code ? code.data : null);
  }
  function tick() {
    decode().then(function (value) {
      // Another QR code (a poster, a book) is not a badge: keep looking.
      if (value && value.indexOf('MIMS-BADGE:') === 0) {
        end();
        field.value = value;
        HTMLFormElement.prototype.submit.call(form);
        return;
      }
      if (stream) timer = setTimeout(tick, 120);
    });
  }
  start.addEventListener('click', function () {
    failed.hidden = true;
    failed.removeAttribute('role');
    video.hidden = false;
    status.textContent = scanning;
    scanner.hidden = false;
    start.hidden = true;
    stop.focus();
    navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(tick).catch(function () {
      end();
      video.hidden = true;
      status.textContent = '';
      // An alert only once there is something to say (a hidden one would be a second alert of the page).
      failed.setAttribute('role', 'alert');
      failed.hidden = false;
    });
  });
  stop.addEventListener('click', close);
})();

// Once django-otp-webauthn's script has registered a passkey, back to the list of factors.
"use strict";
document.addEventListener("otp_webauthn.register_complete", function () {
  var page = document.getElementById("content-main");
  window.location.assign(page.dataset.securityUrl);
});

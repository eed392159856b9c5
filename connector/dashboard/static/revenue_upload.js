// The upload form refuses a file over dashboard.max_upload_bytes before sending it, so the
// user reads why here instead of the server's 413 answer.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    var max = parseInt(form.getAttribute("data-max-bytes"), 10);
    var input = form.querySelector("input[type=file]");
    var file = input && input.files && input.files[0];
    if (file && max && file.size > max) {
      event.preventDefault();
      var note = document.getElementById("too-large");
      note.textContent = file.name + " is " + file.size + " bytes, more than the " + max +
        " this page takes (dashboard.max_upload_bytes): import it with closedloop import revenue.";
      note.hidden = false;
    }
  });
})();

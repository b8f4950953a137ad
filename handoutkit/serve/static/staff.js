// Filters the topic list as one types, with the server's own matching (codes, then the
// words patients use: /staff/find); without it, the search form reloads the page.
(function () {
  var search = document.getElementById("search");
  var input = document.getElementById("q");
  var count = document.getElementById("count");
  if (!search || !input || !window.fetch) { return; }
  var topics = Array.prototype.slice.call(document.querySelectorAll(".topic"));
  var timer = null;
  var asked = 0;
  // The list keeps the library's order: it is the order of the packet.
  function show(ids) {
    var shown = 0;
    topics.forEach(function (topic) {
      var box = topic.querySelector("input[name=topic]");
      var match = ids === null || box.checked || ids.indexOf(box.value) !== -1;
      topic.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = shown + (shown === 1 ? " topic" : " topics") + " shown";
  }
  function filter() {
    var query = input.value.trim();
    var ticket = ++asked;
    if (!query) { show(null); return; }
    fetch("/staff/find?q=" + encodeURIComponent(query), {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body && ticket === asked) { show(body.ids); } })
      .catch(function () { /* the search button still works */ });
  }
  if (topics.length && !input.value) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(filter, 150);
    });
    search.addEventListener("submit", function (event) { event.preventDefault(); filter(); });
  }
})();

// Download and print with fetch: progress with a Cancel, errors in words on the page, one
// retry when the service is busy, and the patient's details cleared once the PDF is made
// (the topics stay picked for the next patient). Preview opens the HTML as the form does.
// Without this script the form posts as usual and errors come back as the page.
(function () {
  var form = document.getElementById("build");
  var progress = document.getElementById("progress");
  var text = document.getElementById("progress-text");
  var cancel = document.getElementById("cancel");
  var problem = document.getElementById("form-error");
  if (!form || !progress || !window.fetch || !window.AbortController) { return; }
  var PERSONAL = ["patient", "visit_date", "clinician", "note"];
  var running = null;

  function aborted() { return new DOMException("Cancelled", "AbortError"); }

  function wait(seconds, signal) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(resolve, seconds * 1000);
      signal.addEventListener("abort", function () { clearTimeout(timer); reject(aborted()); });
    });
  }

  function send(data, signal, retried) {
    return fetch(form.getAttribute("action"), {  // form.action is the button named "action"
      method: "POST", body: data, signal: signal, credentials: "same-origin",
      headers: {"X-Handouts-Page": "fetch"}
    }).then(function (response) {
      if (response.redirected) {
        throw new Error("Your session has ended. Sign in again, then make the handout again.");
      }
      if (response.ok) { return response; }
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 503 && !retried) {
          var after = Math.min(parseInt(response.headers.get("Retry-After"), 10) || 2, 10);
          text.textContent = "The service is busy. Trying again in " + after + " s…";
          return wait(after, signal).then(function () { return send(data, signal, true); });
        }
        throw new Error(body.message || body.detail ||
                        "The handout could not be made (error " + response.status + "). Try again.");
      });
    });
  }

  function fileName(response) {
    var found = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return found ? found[1] : "handout.pdf";
  }

  function buttons(enabled) {
    form.querySelectorAll(".actions button").forEach(function (b) { b.disabled = !enabled; });
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || (button.value !== "download" && button.value !== "print")) { return; }
    event.preventDefault();
    if (running) { return; }
    // Sent as the form itself is (URL-encoded), not as multipart.
    var data = new URLSearchParams(new FormData(form));
    data.set("action", button.value);
    // A window opened now, while the click counts, is not blocked; the PDF goes into it.
    var shown = button.value === "print" ? window.open("", "_blank") : null;
    var controller = new AbortController();
    var started = Date.now();
    running = controller;
    problem.hidden = true;
    progress.hidden = false;
    cancel.hidden = false;
    text.textContent = "Making the PDF…";
    var tick = setInterval(function () {
      if (text.textContent.indexOf("Making") === 0) {
        text.textContent = "Making the PDF… " + Math.round((Date.now() - started) / 1000) + " s";
      }
    }, 1000);
    buttons(false);
    send(data, controller.signal, false).then(function (response) {
      var name = fileName(response);
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        if (shown) {
          shown.location.href = url;
        } else {
          var link = document.createElement("a");
          link.href = url;
          link.download = name;
          document.body.appendChild(link);
          link.click();
          link.remove();
        }
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
        PERSONAL.forEach(function (field) {
          if (form.elements[field]) { form.elements[field].value = ""; }
        });
        text.textContent = (shown ? "Opened " : "Downloaded ") + name +
          ". The patient's details were cleared; the topics are still picked.";
      });
    }).catch(function (error) {
      if (shown) { shown.close(); }
      if (error.name === "AbortError") {
        text.textContent = "Cancelled. Nothing was downloaded.";
        return;
      }
      progress.hidden = true;
      problem.textContent = error.message;
      problem.hidden = false;
    }).finally(function () {
      clearInterval(tick);
      cancel.hidden = true;
      buttons(true);
      running = null;
    });
  });

  cancel.addEventListener("click", function () { if (running) { running.abort(); } });
})();

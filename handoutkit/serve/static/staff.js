// Filters the topic list as one types; without it, the search form reloads the page.
(function () {
  var search = document.getElementById("search");
  var input = document.getElementById("q");
  var count = document.getElementById("count");
  if (!search || !input) { return; }
  var topics = Array.prototype.slice.call(document.querySelectorAll(".topic"));
  function filter() {
    var words = input.value.toLowerCase().replace(/\./g, "").split(/\s+/).filter(Boolean);
    var shown = 0;
    topics.forEach(function (topic) {
      var text = topic.getAttribute("data-search").replace(/\./g, "");
      var picked = topic.querySelector("input[name=topic]").checked;
      var match = picked || words.every(function (w) { return text.indexOf(w) !== -1; });
      topic.hidden = !match;
      if (match) { shown += 1; }
    });
    count.textContent = shown + (shown === 1 ? " topic" : " topics") + " shown";
  }
  if (topics.length && !input.value) {
    input.addEventListener("input", filter);
    search.addEventListener("submit", function (event) { event.preventDefault(); filter(); });
  }
})();

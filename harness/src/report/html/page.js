// The filters: whole scenarios hidden or shown from their data-* attributes; nothing else.
(function () {
  "use strict";
  var failedOnly = document.getElementById("failed-only");
  var tag = document.getElementById("tag-filter");
  var folder = document.getElementById("folder-filter");
  var shown = document.getElementById("shown");
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.scenario"));
  function hasTag(section, wanted) {
    var tags = section.querySelectorAll(".tag");
    for (var i = 0; i < tags.length; i++) {
      if (tags[i].getAttribute("data-tag") === wanted) return true;
    }
    return false;
  }
  function apply() {
    var n = 0;
    sections.forEach(function (s) {
      var status = s.getAttribute("data-status");
      var keep = !(failedOnly.checked && status !== "failed" && status !== "error");
      if (keep && tag.value) keep = hasTag(s, tag.value);
      if (keep && folder.value) keep = s.getAttribute("data-folder") === folder.value;
      s.hidden = !keep;
      if (keep) n++;
    });
    shown.textContent = n + " of " + sections.length + " shown";
  }
  function openAll(open) {
    sections.forEach(function (s) {
      if (s.hidden) return;
      s.querySelectorAll("details.exchange").forEach(function (d) { d.open = open; });
    });
  }
  failedOnly.addEventListener("change", apply);
  tag.addEventListener("change", apply);
  folder.addEventListener("change", apply);
  document.getElementById("expand-all").addEventListener("click", function () { openAll(true); });
  document.getElementById("collapse-all").addEventListener("click", function () { openAll(false); });
  apply();
})();

/* Assay portal: the one small script of our own (htmx does the rest). Progressive: without it every page works.
   Dates and times ("2026-12-06 15:19 UTC") and intervals of numbers are kept on one line: a browser may otherwise
   break a date after a hyphen in a narrow table column, which reads as two numbers ("2026-12-" above "06"). */
(function () {
  "use strict";
  var NUMBER = "\\d+(?:\\.\\d+)?(?:e[-+]?\\d+)?";
  var WHOLE = new RegExp(
    "(?<![\\w.-])(?:\\d{4}-\\d{2}-\\d{2}(?:[ T]\\d{2}:\\d{2}(?::\\d{2})?(?: UTC)?)?|" + NUMBER + " ?[–-] ?" + NUMBER + ")(?![\\w.-])",
    "g"
  );
  var SKIP = { SCRIPT: 1, STYLE: 1, TEXTAREA: 1, PRE: 1, CODE: 1, TITLE: 1 };

  function keepWhole(root) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        var parent = node.parentNode;
        if (!parent || SKIP[parent.nodeName] || parent.classList.contains("whole") || parent.closest("svg")) {
          return NodeFilter.FILTER_REJECT;
        }
        WHOLE.lastIndex = 0;
        return WHOLE.test(node.data) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
      },
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      var text = node.data, at = 0, match, parts = document.createDocumentFragment();
      WHOLE.lastIndex = 0;
      while ((match = WHOLE.exec(text))) {
        parts.appendChild(document.createTextNode(text.slice(at, match.index)));
        var span = document.createElement("span");
        span.className = "whole";
        span.textContent = match[0];
        parts.appendChild(span);
        at = match.index + match[0].length;
      }
      parts.appendChild(document.createTextNode(text.slice(at)));
      node.parentNode.replaceChild(parts, node);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { keepWhole(document.body); });
  document.addEventListener("htmx:afterSwap", function (event) { keepWhole(event.target); });
})();

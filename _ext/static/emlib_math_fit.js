/* A formula in running text that is wider than its line (a long inline formula on a phone, or one with
   \left...\right, which MathJax 2 cannot break) would be cut off at the edge of the column, because the
   theme never lets the page scroll sideways. After MathJax has typeset the page, each such formula gets
   the class emlib-wide-math (see emlib_site.css): it then sits on its own line and scrolls sideways
   inside its own box, like a display equation. */
(function () {
  "use strict";
  const WIDE = "emlib-wide-math";

  function tooWide(span) {
    const block = span.parentElement && span.parentElement.closest("p, li, dd, td, th, div, blockquote");
    if (!block) return false;
    const room = block.getBoundingClientRect();
    const formula = (span.querySelector(".MathJax span.math") || span).getBoundingClientRect();
    return span.scrollWidth > span.clientWidth + 1 || formula.right > room.right + 1
      || formula.left < room.left - 1;
  }

  // After a resize every formula is measured afresh; after a click only those not yet marked (so that
  // a box the reader has scrolled keeps its place).
  function fit(afresh) {
    const spans = Array.from(document.querySelectorAll("span.math.notranslate"));
    if (afresh) spans.forEach(span => span.classList.remove(WIDE));
    spans.filter(span => !span.classList.contains(WIDE) && tooWide(span))
      .forEach(span => span.classList.add(WIDE));
  }

  function whenTypeset(tries) {
    const mj = window.MathJax;
    if (mj && mj.Hub && mj.Hub.Register) {
      // Braces: a hook that returns MathJax's callback would make startup wait for it (a deadlock).
      mj.Hub.Register.StartupHook("End", () => { mj.Hub.Queue(() => fit(true)); });
      // Formulas in a closed dropdown (a solution) have no size until it opens: measure again after
      // a click (the reveal is a short CSS transition) and after the window changes size.
      let pending = null, pendingAfresh = false;
      const later = (delay, afresh) => {
        clearTimeout(pending);
        pendingAfresh = pendingAfresh || afresh;
        pending = setTimeout(() => {
          const again = pendingAfresh;
          pendingAfresh = false;
          mj.Hub.Queue(() => fit(again));
        }, delay);
      };
      window.addEventListener("resize", () => later(200, true));
      document.addEventListener("click", () => later(450, false));
      document.addEventListener("toggle", () => later(50, false), true);
    } else if (tries > 0 && document.querySelector("span.math.notranslate")) {
      setTimeout(() => whenTypeset(tries - 1), 100);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => whenTypeset(600));
  } else {
    whenTypeset(600);
  }
})();

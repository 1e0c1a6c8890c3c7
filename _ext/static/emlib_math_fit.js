/* Formulas wider than the room they have, after MathJax has typeset the page.

   A formula in running text that is wider than its line (a long inline formula on a phone, or one with
   \left...\right, which MathJax 2 cannot break) would be cut off at the edge of the column, because the
   theme never lets the page scroll sideways. A display equation wider than the column scrolls inside its
   own box (emlib_site.css), and on a phone nothing shows that it does. So, for each formula:

   - it fits: nothing changes (an inline formula stays in its sentence);
   - it is at most 15% too wide: its font is made just small enough to fit (class emlib-shrunk-math);
     an inline formula then stays in its sentence;
   - wider still: an inline formula gets the class emlib-wide-math (its own line and a scrolling box, like
     a display equation), and every scrolling formula box fades out at the edge where more of the formula
     is hidden (classes emlib-more-right / emlib-more-left), so the reader sees that it scrolls.

   "Wide" means the formula's natural width (the bounding box of MathJax's own span.math) exceeds the
   content box of its line or equation box. Not the box's scrollWidth: an accent (\hat s, \tilde\ell)
   is drawn as a glyph whose box reaches a few pixels past the formula, so even $\hat s$ has a scrollWidth
   larger than its clientWidth. */
(function () {
  "use strict";
  const WIDE = "emlib-wide-math", SHRUNK = "emlib-shrunk-math";
  const MORE_RIGHT = "emlib-more-right", MORE_LEFT = "emlib-more-left";
  const MIN_SCALE = 0.85;  // a formula may be made this much smaller to fit; more, and it scrolls
  const SLACK = 1;  // px of rounding

  // MathJax's own element: as wide as the formula (emlib_site.css lets it be), without glyph overhang.
  const formulaOf = box => box.querySelector(".MathJax span.math");

  function contentBox(el) {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    const left = r.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft);
    const right = r.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight);
    return {left, right, width: right - left};
  }

  // The room of an inline formula: its line, the content box of the block around it.
  function inlineRoom(span) {
    const block = span.parentElement && span.parentElement.closest("p, li, dd, td, th, div, blockquote");
    return block ? contentBox(block) : null;
  }

  // The room of a display formula: its div.math, less the equation number when that sits beside it.
  function displayRoom(div) {
    const room = contentBox(div), s = getComputedStyle(div);
    const eqno = div.querySelector(":scope > span.eqno");
    if (eqno && s.flexDirection.startsWith("row")) {
      const taken = eqno.getBoundingClientRect().width + (parseFloat(s.columnGap) || 0);
      if (s.flexDirection === "row-reverse") room.right -= taken; else room.left += taken;
      room.width -= taken;
    }
    return room;
  }

  function reset(box) {
    box.classList.remove(WIDE, SHRUNK, MORE_RIGHT, MORE_LEFT);
    delete box.dataset.emlibScale;
    const scaled = box.matches("div.math") ? box.querySelector(".MathJax_Display") : box;
    if (scaled) scaled.style.fontSize = "";
  }

  // What to do with a formula box: null if it is not shown (a closed dropdown), else {kind, scale} with
  // kind null (it fits), SHRUNK (scale: font size in %) or WIDE. Only reads the layout.
  function decide(box, isDisplay) {
    const formula = formulaOf(box);
    if (!formula) return null;
    const f = formula.getBoundingClientRect();
    if (f.width === 0) return null;
    const room = isDisplay ? displayRoom(box) : inlineRoom(box);
    if (!room || room.width <= 0) return null;
    const width = f.width * 100 / (Number(box.dataset.emlibScale) || 100);  // at full size
    const tooWide = width > room.width + SLACK;
    const sticksOut = f.right > room.right + SLACK || f.left < room.left - SLACK;
    if (!tooWide && (isDisplay || !sticksOut)) return {kind: null};
    if (tooWide && width * MIN_SCALE <= room.width - 2) {
      return {kind: SHRUNK, scale: Math.floor(100 * (room.width - 2) / width)};
    }
    return {kind: WIDE};
  }

  function apply(box, isDisplay, decision) {
    if (decision.kind === SHRUNK) {
      const scaled = isDisplay ? box.querySelector(".MathJax_Display") : box;
      if (scaled) {
        scaled.style.fontSize = decision.scale + "%";
        box.dataset.emlibScale = decision.scale;
        box.classList.add(SHRUNK);
        return;
      }
    }
    if (decision.kind && !isDisplay) box.classList.add(WIDE);  // a display box scrolls already
  }

  // Fades the edge of a scrolling formula box where part of the formula is out of view.
  function cue(box) {
    const formula = formulaOf(box);
    let right = false, left = false;
    if (formula && (box.classList.contains(WIDE) || box.matches("div.math"))) {
      const f = formula.getBoundingClientRect(), room = contentBox(box);
      if (f.width > 0) {
        right = f.right > room.right + SLACK;
        left = f.left < room.left - SLACK;
      }
    }
    box.classList.toggle(MORE_RIGHT, right);
    box.classList.toggle(MORE_LEFT, left);
  }

  // When the column changes width every formula is measured afresh. After a click (a solution opens,
  // with a transition that may still be running at the first measurement) every formula is measured
  // again, except inline ones already in a scrolling box of their own, so that a box the reader has
  // scrolled keeps its place. First all measurements, then all changes: one layout, not one per formula.
  function current(box) {
    if (box.classList.contains(SHRUNK)) return SHRUNK;
    return box.classList.contains(WIDE) ? WIDE : null;
  }

  function fit(afresh) {
    const boxes = Array.from(document.querySelectorAll("span.math.notranslate"), box => [box, false])
      .concat(Array.from(document.querySelectorAll("div.math"), box => [box, true]));
    if (afresh) boxes.forEach(([box]) => reset(box));
    const changes = [];
    for (const [box, isDisplay] of boxes) {
      if (current(box) === WIDE) continue;
      const decision = decide(box, isDisplay);
      if (decision === null || decision.kind === current(box) && (decision.kind !== SHRUNK
          || Math.abs(decision.scale - Number(box.dataset.emlibScale)) <= 1)) continue;
      changes.push([box, isDisplay, decision]);
    }
    changes.forEach(([box, isDisplay, decision]) => { reset(box); apply(box, isDisplay, decision); });
    boxes.filter(([box, isDisplay]) => isDisplay || box.classList.contains(WIDE))
      .forEach(([box]) => cue(box));
  }

  let cueFrame = 0;
  function onScroll(event) {
    const box = event.target;
    if (!(box instanceof Element) || !box.matches("div.math, span.math." + WIDE) || cueFrame) return;
    cueFrame = requestAnimationFrame(() => { cueFrame = 0; cue(box); });
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
      // The window or the column changed width (the theme's sidebar button changes the column only).
      let width = null;
      const column = document.querySelector("article") || document.body;
      new ResizeObserver(entries => {
        const now = Math.round(entries[entries.length - 1].contentRect.width);
        if (width !== null && now !== width) later(200, true);
        width = now;
      }).observe(column);
      document.addEventListener("click", () => later(450, false));
      document.addEventListener("toggle", () => later(50, false), true);
      document.addEventListener("scroll", onScroll, {capture: true, passive: true});
    } else if (tries > 0 && document.querySelector("span.math.notranslate, div.math")) {
      setTimeout(() => whenTypeset(tries - 1), 100);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => whenTypeset(600));
  } else {
    whenTypeset(600);
  }
})();

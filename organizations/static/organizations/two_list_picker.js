"use strict";
// Django's two-list picker (SelectFilter2.js) labels each filter box with an icon: a span with
// an aria-label and no role, which ARIA does not allow (axe: aria-prohibited-attr). As an
// image the icon may carry that text, and the filter box keeps it as its accessible name.
// Listed after SelectFilter2.js, so this runs once the picker is drawn on load.
window.addEventListener("load", () => {
    const icons = document.querySelectorAll(".selector .search-label-icon[aria-label]:not([role])");
    for (const icon of icons) {
        icon.setAttribute("role", "img");
    }
});

// Keyboard review, tag details and text selection for the article page.
// Everything shown is copied from the server-rendered (escaped) page as DOM nodes or text:
// nothing here parses HTML.
"use strict";

(function () {
  const page = document.querySelector(".article-page");
  if (!page) return;
  const articleId = page.dataset.articleId;
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const cards = Array.from(document.querySelectorAll(".card[data-key]"));
  const details = document.getElementById("details");
  let current = -1;
  const STATE_LABELS = { accept: "accepted", reject: "rejected", correct: "corrected" };

  function marksOf(key) {
    return document.querySelectorAll('mark.tag[data-key="' + CSS.escape(key) + '"]');
  }

  function showDetails(card) {
    const copy = document.createDocumentFragment();
    const head = card.querySelector(".card-head").cloneNode(true);
    const evidence = card.querySelector(".evidence").cloneNode(true);
    const facts = card.querySelector(".facts").cloneNode(true);
    const note = card.querySelector(".state-note").cloneNode(true);
    copy.append(head, evidence, facts, note);
    details.replaceChildren(copy);
  }

  function select(index, focusMark) {
    if (!cards.length) return;
    current = (index + cards.length) % cards.length;
    document.querySelectorAll(".current").forEach((node) => node.classList.remove("current"));
    const card = cards[current];
    card.classList.add("current");
    marksOf(card.dataset.key).forEach((mark) => mark.classList.add("current"));
    showDetails(card);
    card.scrollIntoView({ block: "nearest" });
    const first = document.getElementById("mark-" + card.dataset.key);
    if (focusMark && first) {
      first.focus({ preventScroll: true });
      first.scrollIntoView({ block: "nearest" });
    }
  }

  function setState(card, state, note) {
    const classes = Array.from(card.classList).filter((name) => name.startsWith("state-"));
    card.classList.remove(...classes);
    card.classList.add("state-" + state);
    card.querySelector(".state-label").textContent = STATE_LABELS[state] || state;
    card.querySelector(".state-note").textContent = note;
    marksOf(card.dataset.key).forEach((mark) => {
      mark.classList.remove(...Array.from(mark.classList).filter((n) => n.startsWith("state-")));
      mark.classList.add("state-" + state);
    });
  }

  async function judge(action) {
    const card = cards[current];
    if (!card || !card.dataset.id) return;
    const body = new FormData();
    body.append("target_kind", card.dataset.kind);
    body.append("target_id", card.dataset.id);
    body.append("action", action);
    const response = await fetch("/articles/" + articleId + "/review", {
      method: "POST",
      body: body,
      headers: { "X-CSRF-Token": csrfToken, Accept: "application/json" },
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      card.querySelector(".state-note").textContent = "not saved: " + (answer.error || answer.detail || response.status);
      return;
    }
    setState(card, answer.state,
      (STATE_LABELS[answer.state] || answer.state) + " by " + answer.reviewer + " (just now)");
    showDetails(card);
    if (current < cards.length - 1) select(current + 1, true);
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest("input, select, textarea, button, summary")) return;
    const moves = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      select(current < 0 && moves[event.key] < 0 ? 0 : current + moves[event.key], true);
    } else if (event.key === "a" || event.key === "r") {
      if (current < 0) return;
      event.preventDefault();
      judge(event.key === "a" ? "accept" : "reject");
    } else if (event.key === "n") {
      event.preventDefault();
      window.location.assign("/articles/" + articleId + "/next");
    }
  });

  // Hovering or focusing a highlight shows its tag; the innermost mark wins.
  function fromMark(event) {
    const mark = event.target.closest("mark.tag[data-key]");
    if (!mark) return;
    const index = cards.findIndex((card) => card.dataset.key === mark.dataset.key);
    if (index >= 0) select(index, false);
  }
  // The headline (h1.para) is text too: its tags show and it can be selected.
  const text = document.querySelector("article.reading");
  text.addEventListener("focusin", fromMark);
  text.addEventListener("mouseover", fromMark);
  cards.forEach((card, index) => card.addEventListener("click", (event) => {
    if (!event.target.closest("form, details")) select(index, false);
  }));

  // A text selection inside the article becomes the offsets of an added catalyst.
  function offsetOf(node, offset) {
    const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
    const paragraph = element && element.closest(".para");
    if (!paragraph) return null;
    const range = document.createRange();
    range.setStart(paragraph, 0);
    range.setEnd(node, offset);
    return Number(paragraph.dataset.start) + range.toString().length;
  }
  document.addEventListener("selectionchange", () => {
    const selection = document.getSelection();
    if (!selection || selection.isCollapsed || !selection.rangeCount) return;
    const range = selection.getRangeAt(0);
    if (!text.contains(range.commonAncestorContainer)) return;
    const start = offsetOf(range.startContainer, range.startOffset);
    const end = offsetOf(range.endContainer, range.endOffset);
    if (start === null || end === null || end <= start) return;
    document.getElementById("add-start").value = start;
    document.getElementById("add-end").value = end;
    document.getElementById("selection-preview").textContent = selection.toString();
  });

  const fromHash = cards.findIndex((card) => "#card-" + card.dataset.key === window.location.hash);
  if (fromHash >= 0) select(fromHash, false);
})();

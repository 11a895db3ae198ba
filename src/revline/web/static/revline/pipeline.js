// Pipeline screens: drag and drop on the board, the quote builder's rows and live totals, the
// print button. Every screen works without this file: each card has a "Move to" form, the
// builder posts back to add a line or recalculate, and the browser prints on its own.
// Event delegation on the document, so it survives htmx swaps.
(function () {
  "use strict";
  document.documentElement.classList.add("pl-js");

  // --- the board: native HTML5 drag and drop, submitted through the card's own form -----------

  var dragged = null; // {card, origin, next}

  function zoneOf(el) {
    return el && el.closest ? el.closest("[data-drop-zone]") : null;
  }

  function highlight(zone, on) {
    var target = zone.closest(".pl-column") || zone;
    target.classList.toggle("is-over", on);
  }

  function clearHighlights() {
    document.querySelectorAll(".is-over").forEach(function (el) {
      el.classList.remove("is-over");
    });
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest('.pl-card[draggable="true"]');
    if (!card) return;
    dragged = { card: card, origin: card.parentNode, next: card.nextSibling };
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-card"));
    card.classList.add("is-dragging");
    var board = card.closest("[data-board]");
    if (board) board.classList.add("pl-dragging");
  });

  document.addEventListener("dragend", function () {
    document.querySelectorAll(".is-dragging").forEach(function (el) {
      el.classList.remove("is-dragging");
    });
    document.querySelectorAll(".pl-dragging").forEach(function (el) {
      el.classList.remove("pl-dragging");
    });
    clearHighlights();
  });

  document.addEventListener("dragover", function (event) {
    var zone = zoneOf(event.target);
    if (!zone || !dragged) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    clearHighlights();
    highlight(zone, true);
  });

  document.addEventListener("dragleave", function (event) {
    var zone = zoneOf(event.target);
    if (zone && !zone.contains(event.relatedTarget)) highlight(zone, false);
  });

  document.addEventListener("drop", function (event) {
    var zone = zoneOf(event.target);
    if (!zone || !dragged) return;
    event.preventDefault();
    clearHighlights();
    var card = dragged.card;
    var stage = zone.getAttribute("data-drop-zone");
    if (stage === card.getAttribute("data-stage")) {
      dragged = null;
      return;
    }
    var form = card.querySelector(".pl-card-move");
    var select = form && form.querySelector("[data-move-select]");
    if (!select) {
      dragged = null;
      return;
    }
    select.value = stage;
    // Show the move at once; the server's answer (the whole board) replaces it either way: the
    // card in its new column, or back in its column with what the stage still needs.
    if (zone.classList.contains("pl-column-body")) {
      var empty = zone.querySelector(".pl-column-empty");
      if (empty) empty.remove();
      zone.insertBefore(card, zone.firstChild);
    }
    card.classList.add("is-pending");
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  });

  function putBack(message) {
    if (!dragged) return;
    var card = dragged.card;
    card.classList.remove("is-pending");
    if (dragged.origin) dragged.origin.insertBefore(card, dragged.next);
    dragged = null;
    if (message) window.alert(message);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.target && event.target.id === "board") dragged = null;
  });
  // After settling (htmx gives the new board its classes then): a refused move brings the
  // card, back in its column, into view with its form ready.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.target || event.target.id !== "board") return;
    var refused = event.target.querySelector(".pl-card.is-refused");
    if (refused) {
      refused.scrollIntoView({ block: "nearest", behavior: "smooth" });
      var field = refused.querySelector(".pl-refusal-form select, .pl-refusal-form input:not([type=hidden])");
      if (field) field.focus({ preventScroll: true });
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    if (dragged) putBack("The move failed (" + event.detail.xhr.status + "). Try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    if (dragged) putBack("The server could not be reached; the deal was not moved.");
  });

  // --- the quote builder ------------------------------------------------------------------------

  var money = new Intl.NumberFormat(undefined, {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });

  function num(value) {
    var n = parseFloat(String(value || "").replace(",", "."));
    return isFinite(n) ? n : null;
  }

  function prices() {
    var el = document.getElementById("quote-prices");
    if (!el) return { books: {}, list: {} };
    try {
      return JSON.parse(el.textContent);
    } catch (e) {
      return { books: {}, list: {} };
    }
  }

  function recalc(builder) {
    var data = prices();
    var bookSelect = builder.querySelector("[data-price-book]");
    var book = builder.getAttribute("data-fixed-book") || (bookSelect && bookSelect.value) || "";
    var bookPrices = data.books[book] || {};
    var subtotal = 0;
    var atList = 0;
    var lines = 0;
    builder.querySelectorAll("[data-lines] [data-line]").forEach(function (row) {
      var product = row.querySelector("[data-line-product]");
      var totalCell = row.querySelector("[data-line-total]");
      var listHint = row.querySelector("[data-line-list]");
      var priceInput = row.querySelector("[data-line-price]");
      if (row.classList.contains("is-removed") || !product || !product.value) {
        if (totalCell) totalCell.textContent = "—";
        if (listHint) listHint.textContent = "";
        return;
      }
      var listPrice = num(bookPrices[product.value]);
      if (listPrice === null) listPrice = num(data.list[product.value]);
      var inBook = bookPrices[product.value] !== undefined;
      var unit = num(priceInput && priceInput.value);
      if (unit === null) unit = listPrice || 0;
      var quantity = num(row.querySelector("[data-line-quantity]").value);
      if (quantity === null) quantity = 1;
      var discount = num(row.querySelector("[data-line-discount]").value) || 0;
      var total = quantity * unit * (1 - discount / 100);
      subtotal += total;
      atList += quantity * (listPrice === null ? unit : listPrice);
      lines += 1;
      if (totalCell) totalCell.textContent = money.format(total);
      if (priceInput && listPrice !== null) priceInput.placeholder = money.format(listPrice);
      if (listHint) {
        listHint.textContent =
          listPrice === null
            ? "No price: enter one"
            : (inBook ? "Book " : "List ") + money.format(listPrice);
      }
    });
    var discountInput = builder.querySelector("[data-quote-discount]");
    var quoteDiscount = num(discountInput && discountInput.value) || 0;
    var grand = subtotal * (1 - quoteDiscount / 100);
    var effective = atList > 0 ? (1 - grand / atList) * 100 : 0;
    var set = function (sel, text) {
      var el = builder.querySelector(sel);
      if (el) el.textContent = text;
    };
    set("[data-subtotal]", lines ? money.format(subtotal) : "—");
    set("[data-total]", lines ? money.format(grand) : "—");
    set("[data-effective]", lines ? effective.toFixed(2) + "%" : "—");
    var hint = builder.querySelector("[data-approval-hint]");
    if (hint && lines) {
      var manager = num(builder.getAttribute("data-manager-threshold")) || 0;
      var vp = num(builder.getAttribute("data-vp-threshold")) || 0;
      hint.classList.remove("is-manager", "is-vp");
      if (effective > vp + 1e-9) {
        hint.textContent = "Needs the manager's and the VP's approval.";
        hint.classList.add("is-vp");
      } else if (effective > manager + 1e-9) {
        hint.textContent = "Needs the manager's approval.";
        hint.classList.add("is-manager");
      } else {
        hint.textContent = "Within your authority: approved on submit.";
      }
    }
  }

  function addLine(builder) {
    var template = builder.querySelector("[data-line-template]");
    var total = builder.querySelector('input[name$="-TOTAL_FORMS"]');
    var body = builder.querySelector("[data-lines]");
    if (!template || !total || !body) return;
    var index = parseInt(total.value, 10) || 0;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("tbody");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    body.appendChild(row);
    total.value = String(index + 1);
    var select = row.querySelector("select");
    if (select) select.focus();
    recalc(builder);
  }

  document.addEventListener("click", function (event) {
    var builder = event.target.closest && event.target.closest("[data-quote-builder]");
    if (builder) {
      if (event.target.closest("[data-add-line]")) {
        event.preventDefault();
        addLine(builder);
        return;
      }
      var remove = event.target.closest("[data-remove-line]");
      if (remove) {
        event.preventDefault();
        var row = remove.closest("[data-line]");
        var box = row.querySelector('input[type="checkbox"][name$="-DELETE"]');
        if (box) box.checked = true;
        row.classList.add("is-removed");
        recalc(builder);
        return;
      }
    }
    var print = event.target.closest && event.target.closest("[data-print]");
    if (print) {
      event.preventDefault();
      window.print();
    }
  });

  ["input", "change"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var builder = event.target.closest && event.target.closest("[data-quote-builder]");
      if (builder) recalc(builder);
    });
  });

  function init(root) {
    root.querySelectorAll("[data-quote-builder]").forEach(recalc);
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    init(document);
  });
  document.addEventListener("htmx:load", function (event) {
    init(event.target);
  });
})();

/* Chat page of the document assistant.
   Every piece of document or user text is inserted with textContent / text nodes, never parsed as HTML. */
(function () {
  "use strict";

  var I18N = window.AssistantI18n;
  var CONVERSATION_KEY = "assistant.conversation";
  var HISTORY_TURNS = 6;
  var MAX_QUESTION_CHARS = 2000; // the server's limit until /api/health says otherwise
  var MAX_ANSWER_CHARS = 10000;
  var REQUEST_TIMEOUT_MS = 120000;

  var els = {
    form: document.getElementById("ask-form"),
    question: document.getElementById("question"),
    send: document.getElementById("send"),
    clear: document.getElementById("clear"),
    langSwitch: document.getElementById("lang-switch"),
    status: document.getElementById("status"),
    announce: document.getElementById("announce"),
    conversation: document.getElementById("conversation"),
    intro: document.getElementById("intro"),
    introNotice: document.getElementById("intro-notice"),
    introDocs: document.getElementById("intro-docs"),
    introDocList: document.getElementById("intro-doc-list"),
    viewer: document.getElementById("source-viewer"),
    viewerTitle: document.getElementById("source-title"),
    viewerMeta: document.getElementById("source-meta"),
    viewerNote: document.getElementById("source-note"),
    viewerText: document.getElementById("source-text"),
    viewerClose: document.getElementById("source-close")
  };

  var uiLang = I18N.initialLanguage();
  var turns = loadTurns(); // [{question, response}] or [{question, error}]
  var openClosest = {}; // turn index -> true when its <details> is open
  var busy = false;
  var requestGeneration = 0;
  var currentController = null;
  var documentCache = new Map(); // document id -> Promise of the document JSON
  var viewerOpener = null;
  var viewerGeneration = 0;
  var documentsSummary = null; // result of GET /api/documents, for the intro
  var introError = null;

  /* ---------- small helpers ---------- */

  function t(key) {
    return I18N.strings(uiLang)[key];
  }

  function str(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function isInt(value) {
    return typeof value === "number" && Number.isInteger(value);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function setLangAttr(node, code) {
    if (typeof code === "string" && /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/i.test(code)) node.lang = code;
  }

  /** The language of the question, when the interface knows it; else the interface language. */
  function questionLang(response) {
    var code = response && typeof response.language === "string" ? response.language.toLowerCase() : "";
    return I18N.isSupported(code) ? code : uiLang;
  }

  function badgeText(code) {
    var s = str(code).trim();
    return s ? s.toUpperCase() : "?";
  }

  function languageName(code) {
    var names = t("languages");
    var key = str(code).toLowerCase();
    return names[key] || t("languageOf")(badgeText(code));
  }

  function formatScore(score) {
    return typeof score === "number" && isFinite(score) ? score.toFixed(2) : "";
  }

  /* Offsets from the server count Unicode code points (Python str); JavaScript strings count UTF-16 units.
     unitIndex(text, n) is the UTF-16 index of the n-th code point of text (clamped to the text). */
  var SURROGATE = /[\uD800-\uDFFF]/;

  function unitIndex(text, codePoints) {
    if (codePoints <= 0) return 0;
    if (!SURROGATE.test(text)) return Math.min(codePoints, text.length);
    var i = 0;
    var n = 0;
    while (i < text.length && n < codePoints) {
      var c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        var d = text.charCodeAt(i + 1);
        i += d >= 0xdc00 && d <= 0xdfff ? 2 : 1;
      } else {
        i += 1;
      }
      n += 1;
    }
    return i;
  }

  /** [start, end) in UTF-16 units of the code-point span [start, end) of text, when it holds `expected`. */
  function spanOf(text, start, end, expected) {
    if (!isInt(start) || !isInt(end) || start < 0 || end < start) return null;
    var a = unitIndex(text, start);
    var b = unitIndex(text, end);
    if (expected !== undefined && text.slice(a, b) !== expected) return null;
    return [a, b];
  }

  /** Where the answer sentence lies in citation `index`'s passage text, in UTF-16 units; null if not there. */
  function answerRangeInPassage(response, index) {
    var answer = response.answer;
    var citations = response.citations;
    if (!answer || typeof answer.text !== "string" || !answer.text) return null;
    var citation = citations[index];
    if (!citation || typeof citation.text !== "string") return null;
    var home = citations[answer.citation];
    var isHome = answer.citation === index;
    var inside =
      !!home &&
      citation.document_id === home.document_id &&
      isInt(answer.start) && isInt(answer.end) && isInt(citation.start) && isInt(citation.end) &&
      answer.start >= citation.start && answer.end <= citation.end && answer.end > answer.start;
    if (!isHome && !inside) return null;
    var text = citation.text;
    if (inside) {
      var span = spanOf(text, answer.start - citation.start, answer.end - citation.start, answer.text);
      if (span) return span;
    }
    var at = text.indexOf(answer.text);
    return at >= 0 ? [at, at + answer.text.length] : null;
  }

  /** Appends text to node as text nodes, with range [a, b) wrapped in <mark class=markClass>. */
  function appendMarked(node, text, range, markClass) {
    if (!range) {
      node.appendChild(document.createTextNode(text));
      return null;
    }
    if (range[0] > 0) node.appendChild(document.createTextNode(text.slice(0, range[0])));
    var mark = el("mark", markClass, text.slice(range[0], range[1]));
    node.appendChild(mark);
    if (range[1] < text.length) node.appendChild(document.createTextNode(text.slice(range[1])));
    return mark;
  }

  /** Fades the passages cut by their card's height (only those that overflow). */
  function markClamped(root) {
    (root || els.conversation).querySelectorAll(".citation-card:not(.has-answer) .citation-text").forEach(function (node) {
      if (!node.clientHeight) return; // inside a closed <details>: measured when opened
      node.classList.toggle("is-clamped", node.scrollHeight > node.clientHeight + 1);
    });
  }

  function announce(text) {
    els.announce.textContent = "";
    window.setTimeout(function () {
      els.announce.textContent = text;
    }, 60);
  }

  /* ---------- conversation storage ---------- */

  function validResponse(r) {
    return !!r && typeof r === "object" && Array.isArray(r.citations) &&
      r.citations.every(function (c) { return !!c && typeof c === "object"; });
  }

  function loadTurns() {
    try {
      var raw = window.sessionStorage.getItem(CONVERSATION_KEY);
      if (!raw) return [];
      var data = JSON.parse(raw);
      var list = Array.isArray(data) ? data : data && Array.isArray(data.turns) ? data.turns : [];
      return list.filter(function (turn) {
        return !!turn && typeof turn === "object" && typeof turn.question === "string" &&
          (validResponse(turn.response) || (!!turn.error && typeof turn.error === "object"));
      });
    } catch (e) {
      return [];
    }
  }

  function saveTurns() {
    var kept = turns.slice();
    while (true) {
      try {
        if (kept.length) window.sessionStorage.setItem(CONVERSATION_KEY, JSON.stringify(kept));
        else window.sessionStorage.removeItem(CONVERSATION_KEY);
        return;
      } catch (e) {
        if (!kept.length) return; // storage unavailable: the conversation lasts for this page only
        kept.shift(); // quota: drop the oldest turns
      }
    }
  }

  /** The previous answered turns, oldest first, as the API expects them. */
  function buildHistory() {
    var answered = turns.filter(function (turn) { return !!turn.response; });
    return answered.slice(-HISTORY_TURNS).map(function (turn) {
      var answer = turn.response.answer;
      var text = answer && typeof answer.text === "string" ? answer.text.slice(0, MAX_ANSWER_CHARS) : null;
      return { question: turn.question.slice(0, MAX_QUESTION_CHARS), answer: text };
    });
  }

  /* ---------- rendering ---------- */

  function renderUserMessage(turn, index) {
    var article = el("article", "message user");
    article.dataset.turn = String(index);
    article.setAttribute("aria-label", t("you"));
    article.appendChild(el("p", "question-text", turn.question));
    return article;
  }

  /** One cited passage: an article whose title is a real button (it opens the document),
      with the passage, its highlighted answer, the "why" line and the score all readable. */
  function renderCard(response, index) {
    var citation = response.citations[index];
    var title = str(citation.title) || str(citation.document_id);
    var card = el("article", "citation-card");
    card.dataset.documentId = str(citation.document_id);
    card.dataset.citation = String(index);

    var head = el("div", "citation-head");
    var open = el("button", "citation-open");
    open.type = "button";
    open.dataset.citation = String(index);
    open.title = t("cardLabel")(index + 1, title);
    open.appendChild(el("span", "citation-number", "[" + (index + 1) + "]"));
    open.appendChild(document.createTextNode(" "));
    var titleNode = el("span", "citation-title", title);
    setLangAttr(titleNode, citation.language);
    open.appendChild(titleNode);
    head.appendChild(open);
    var badge = el("abbr", "lang-badge", badgeText(citation.language));
    badge.title = languageName(citation.language);
    head.appendChild(badge);
    if (typeof citation.page === "number") {
      head.appendChild(el("span", "citation-page", t("page")(citation.page)));
    }
    var score = el("span", "score");
    score.title = t("scoreTitle");
    score.appendChild(el("span", "sr-only", t("scoreLabel") + " "));
    score.appendChild(document.createTextNode(formatScore(citation.score)));
    head.appendChild(score);
    card.appendChild(head);
    if (str(citation.section)) {
      var section = el("div", "citation-section", str(citation.section));
      setLangAttr(section, citation.language);
      card.appendChild(section);
    }

    var textNode = el("blockquote", "citation-text");
    setLangAttr(textNode, citation.language);
    var range = answerRangeInPassage(response, index);
    var mark = appendMarked(textNode, str(citation.text), range, "answer-highlight");
    if (mark) mark.insertBefore(el("span", "sr-only", t("answerHere") + " "), mark.firstChild);
    if (range) card.classList.add("has-answer");
    card.appendChild(textNode);

    // why this passage was cited: semantic similarity, and the question's words it shares
    var terms = Array.isArray(citation.matched_terms) ? citation.matched_terms.map(str).filter(Boolean) : [];
    var similarity = formatScore(citation.similarity);
    if (similarity) {
      card.appendChild(el("p", "citation-why", terms.length ? t("why")(similarity, terms.join(", ")) : t("whySemantic")(similarity)));
    }
    return card;
  }

  function cardList(response, indices) {
    var list = el("ol", "citation-list");
    indices.forEach(function (i) {
      var item = el("li");
      item.appendChild(renderCard(response, i));
      list.appendChild(item);
    });
    return list;
  }

  /** The passage that holds the answer sentence ("Source"), then the others ("Related passages");
      without an answer sentence, the passages alone. */
  function renderCitations(response, primary) {
    var wrap = el("section", "citations");
    wrap.setAttribute("aria-label", t("sourcesLabel"));
    var all = response.citations.map(function (_, i) { return i; });
    if (primary < 0) {
      wrap.appendChild(cardList(response, all));
      return wrap;
    }
    wrap.appendChild(el("h3", "citations-heading", t("sourceHeading")));
    wrap.appendChild(cardList(response, [primary]));
    var others = all.filter(function (i) { return i !== primary; });
    if (others.length) {
      wrap.appendChild(el("h3", "citations-heading related", t("relatedHeading")(others.length)));
      wrap.appendChild(cardList(response, others));
    }
    return wrap;
  }

  function renderAssistantMessage(turn, index) {
    var response = turn.response;
    var qLang = questionLang(response);
    var qStrings = I18N.strings(qLang);
    var citations = response.citations;
    var article = el("article", "message assistant");
    article.dataset.turn = String(index);
    article.setAttribute("aria-label", t("assistant"));

    if (response.abstained) {
      article.classList.add("abstained");
      var box = el("div", "abstain");
      box.lang = qLang;
      box.appendChild(el("p", "abstain-title", qStrings.abstainTitle));
      if (str(response.message)) box.appendChild(el("p", "abstain-message", response.message));
      article.appendChild(box);
      if (citations.length) {
        var details = el("details", "closest");
        details.open = !!openClosest[index];
        var summary = el("summary", null, qStrings.closest(citations.length));
        summary.lang = qLang;
        details.appendChild(summary);
        details.appendChild(renderCitations(response, -1));
        details.addEventListener("toggle", function () {
          if (details.open) {
            openClosest[index] = true;
            markClamped(details);
          } else {
            delete openClosest[index];
          }
        });
        article.appendChild(details);
      } else {
        var none = el("p", "answer-meta", qStrings.noPassages);
        none.lang = qLang;
        article.appendChild(none);
      }
      return article;
    }

    var answer = response.answer;
    var primary = answer && isInt(answer.citation) && answer.citation >= 0 && answer.citation < citations.length
      ? answer.citation : -1;
    var answerText = el("p", "answer-text");
    if (answer && typeof answer.text === "string" && answer.text) {
      var sentence = el("span", "answer-sentence", answer.text);
      if (primary >= 0) setLangAttr(sentence, citations[primary].language);
      answerText.appendChild(sentence);
    } else {
      var fallback = el("span", "answer-sentence", str(response.message));
      fallback.lang = qLang;
      answerText.appendChild(fallback);
    }
    // One marker: the passage the sentence is quoted from (the other passages are related, not sources of it).
    if (primary >= 0 && answer && typeof answer.text === "string" && answer.text) {
      answerText.appendChild(document.createTextNode(" "));
      var marker = el("button", "cite-marker primary", "[" + (primary + 1) + "]");
      marker.type = "button";
      marker.dataset.citation = String(primary);
      var label = t("markerLabel")(primary + 1, str(citations[primary].title) || str(citations[primary].document_id));
      marker.setAttribute("aria-label", label);
      marker.title = label;
      answerText.appendChild(marker);
    }
    article.appendChild(answerText);

    var meta = el("p", "answer-meta");
    if (answer && str(response.message)) {
      var msg = el("span", null, response.message);
      msg.lang = qLang;
      meta.appendChild(msg);
    }
    if (typeof response.took_ms === "number" && isFinite(response.took_ms)) {
      meta.appendChild(el("span", "took", t("tookMs")(Math.round(response.took_ms))));
    }
    if (meta.childNodes.length) article.appendChild(meta);
    if (citations.length) article.appendChild(renderCitations(response, primary));
    return article;
  }

  function errorTexts(error) {
    var title;
    switch (error.kind) {
      case "empty": title = t("errEmpty"); break;
      case "network": title = t("errNetwork"); break;
      case "timeout": title = t("errTimeout"); break;
      case "bad-response": title = t("errBadResponse"); break;
      default:
        var status = error.status;
        if (status === 401) title = t("err401");
        else if (status === 413) title = t("err413");
        else if (status === 422) title = t("err422");
        else if (status === 429) title = t("err429");
        else if (status === 503) title = t("err503");
        else if (status >= 500) title = t("err500");
        else title = t("errHttp")(str(status));
    }
    return { title: title, detail: str(error.detail) };
  }

  function retryable(error) {
    return error.kind === "network" || error.kind === "timeout" || error.kind === "bad-response" ||
      error.status === 429 || error.status >= 500;
  }

  function renderErrorMessage(turn, index) {
    var error = turn.error;
    var texts = errorTexts(error);
    var article = el("article", "message error");
    if (index !== null) article.dataset.turn = String(index);
    var head = el("p", "error-title");
    head.appendChild(el("span", "error-label", t("errorTitle") + " — "));
    head.appendChild(document.createTextNode(texts.title));
    article.appendChild(head);
    if (texts.detail) article.appendChild(el("p", "error-detail", texts.detail));
    if (index !== null && error.status === 401 && turn.question) article.appendChild(renderKeyForm(turn.question));
    if (index !== null && retryable(error) && turn.question) {
      var retry = el("button", "btn btn-quiet btn-small retry", t("retry"));
      retry.type = "button";
      retry.addEventListener("click", function () {
        ask(turn.question);
      });
      article.appendChild(retry);
    }
    return article;
  }

  function renderTurn(turn, index) {
    var nodes = [];
    if (turn.question) nodes.push(renderUserMessage(turn, index));
    if (turn.response) nodes.push(renderAssistantMessage(turn, index));
    else if (turn.error) nodes.push(renderErrorMessage(turn, index));
    return nodes;
  }

  function renderConversation() {
    var fragment = document.createDocumentFragment();
    turns.forEach(function (turn, index) {
      renderTurn(turn, index).forEach(function (node) { fragment.appendChild(node); });
    });
    els.conversation.replaceChildren(fragment);
    updateIntro();
    markClamped();
  }

  function updateIntro() {
    var empty = !els.conversation.querySelector(".message");
    els.intro.hidden = !empty;
  }

  function renderIntroDocuments() {
    if (introError) {
      els.introNotice.textContent = introError;
      els.introNotice.hidden = false;
    } else {
      els.introNotice.hidden = true;
    }
    if (!documentsSummary || !documentsSummary.length) {
      els.introDocs.hidden = true;
      return;
    }
    var items = documentsSummary.map(function (doc) {
      var li = el("li");
      var badge = el("span", "lang-badge", badgeText(doc.language));
      badge.title = languageName(doc.language);
      li.appendChild(badge);
      var title = el("span", "doc-title", str(doc.title) || str(doc.id));
      setLangAttr(title, doc.language);
      li.appendChild(title);
      return li;
    });
    els.introDocList.replaceChildren.apply(els.introDocList, items);
    els.introDocs.hidden = false;
  }

  /** The server's limits (ASSISTANT_MAX_QUESTION_CHARS): the question box and the history follow them. */
  function loadLimits() {
    els.question.maxLength = MAX_QUESTION_CHARS;
    fetch("/api/health")
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (health) {
        var limit = health && health.limits ? health.limits.max_question_chars : null;
        if (typeof limit === "number" && limit > 0) {
          MAX_QUESTION_CHARS = limit;
          els.question.maxLength = limit;
        }
      }, function () { /* unreachable server: the default stays; asking shows the error */ });
  }

  function loadIntroDocuments() {
    fetch("/api/documents", { headers: apiHeaders() })
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (res.ok && Array.isArray(body)) {
            documentsSummary = body.filter(function (d) { return d && typeof d === "object"; });
            introError = null;
          } else if (body && typeof body.detail === "string") {
            introError = body.detail;
          }
          renderIntroDocuments();
        });
      })
      .catch(function () { /* the intro is optional; a question will report the failure */ });
  }

  /* ---------- language ---------- */

  function applyLanguage() {
    document.documentElement.lang = uiLang;
    document.title = t("pageTitle");
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-aria-label]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-aria-label")));
    });
    els.question.placeholder = t("placeholder");
    els.langSwitch.textContent = t("switchLabel");
    els.langSwitch.lang = t("switchLang");
    els.langSwitch.title = t("switchTitle");
    els.langSwitch.setAttribute("aria-label", t("switchTitle"));
    if (busy) els.status.textContent = t("searching");
  }

  function switchLanguage() {
    uiLang = uiLang === "fr" ? "en" : "fr";
    I18N.remember(uiLang);
    applyLanguage();
    var y = window.scrollY;
    renderConversation();
    renderIntroDocuments();
    window.scrollTo(0, y);
  }

  /* ---------- asking ---------- */

  function setBusy(value) {
    busy = value;
    els.send.disabled = value;
    els.form.setAttribute("aria-busy", value ? "true" : "false");
    els.status.textContent = value ? t("searching") : "";
  }

  /* With ASSISTANT_API_KEYS set, the API wants a key: asked once, kept for this tab only. */
  var API_KEY = "assistant.apiKey";

  function apiHeaders(extra) {
    var headers = { Accept: "application/json" };
    Object.keys(extra || {}).forEach(function (k) { headers[k] = extra[k]; });
    var key = null;
    try { key = window.sessionStorage.getItem(API_KEY); } catch (e) { key = null; }
    if (key) headers["X-API-Key"] = key;
    return headers;
  }

  function renderKeyForm(question) {
    var form = el("form", "api-key");
    var label = el("label", "api-key-label", t("apiKeyLabel"));
    var input = el("input", "api-key-input");
    input.type = "password";
    input.autocomplete = "off";
    input.required = true;
    input.minLength = 16;
    label.appendChild(input);
    var use = el("button", "btn btn-small", t("apiKeyUse"));
    use.type = "submit";
    form.appendChild(label);
    form.appendChild(use);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      try { window.sessionStorage.setItem(API_KEY, input.value.trim()); } catch (e) { /* private mode */ }
      ask(question);
    });
    return form;
  }

  function readError(res) {
    return res.text().then(function (body) {
      var detail = "";
      try {
        var data = JSON.parse(body);
        if (data && typeof data.detail === "string") detail = data.detail;
        else if (data && Array.isArray(data.detail)) {
          detail = data.detail.map(function (d) { return d && d.msg ? str(d.msg) : ""; }).filter(Boolean).join("; ");
        }
      } catch (e) {
        detail = body.length <= 300 && !/<[a-z!]/i.test(body) ? body.trim() : "";
      }
      return { kind: "http", status: res.status, detail: detail };
    }, function () {
      return { kind: "http", status: res.status, detail: "" };
    });
  }

  function scrollToNode(node, block) {
    if (node && typeof node.scrollIntoView === "function") node.scrollIntoView({ block: block || "nearest" });
  }

  function showEphemeralError(kind) {
    var node = renderErrorMessage({ question: "", error: { kind: kind } }, null);
    node.classList.add("ephemeral");
    els.conversation.appendChild(node);
    updateIntro();
    scrollToNode(node);
    announce(errorTexts({ kind: kind }).title);
  }

  function removeEphemeralErrors() {
    els.conversation.querySelectorAll(".message.ephemeral").forEach(function (node) { node.remove(); });
  }

  function ask(rawQuestion) {
    if (busy) return;
    var question = str(rawQuestion).trim();
    removeEphemeralErrors();
    if (!question) {
      showEphemeralError("empty");
      els.question.focus();
      return;
    }
    var history = buildHistory();
    var index = turns.length;
    var turn = { question: question };
    var userNode = renderUserMessage(turn, index);
    els.conversation.appendChild(userNode);
    updateIntro();
    scrollToNode(userNode);
    if (els.question.value.trim() === question) els.question.value = "";
    autoResize();
    setBusy(true);

    var generation = ++requestGeneration;
    var controller = new AbortController();
    currentController = controller;
    var timedOut = false;
    var timer = window.setTimeout(function () {
      timedOut = true;
      controller.abort();
    }, REQUEST_TIMEOUT_MS);

    var body = { question: question, history: history };

    fetch("/api/answer", {
      method: "POST",
      headers: apiHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
      signal: controller.signal
    })
      .then(function (res) {
        if (!res.ok) return readError(res).then(function (error) { return { error: error }; });
        return res.json().then(function (data) {
          return validResponse(data) ? { response: data } : { error: { kind: "bad-response", status: res.status } };
        }, function () {
          return { error: { kind: "bad-response", status: res.status } };
        });
      }, function () {
        return { error: { kind: timedOut ? "timeout" : "network" } };
      })
      .then(function (outcome) {
        window.clearTimeout(timer);
        if (generation !== requestGeneration) return; // the conversation was cleared meanwhile
        currentController = null;
        if (outcome.response) turn.response = outcome.response;
        else turn.error = outcome.error;
        turns.push(turn);
        saveTurns();
        var node = turn.response ? renderAssistantMessage(turn, index) : renderErrorMessage(turn, index);
        els.conversation.appendChild(node);
        markClamped(node);
        setBusy(false);
        scrollToNode(node, "start");
        if (turn.response) {
          var r = turn.response;
          var said = r.abstained || !r.answer
            ? I18N.strings(questionLang(r)).abstainTitle + " " + str(r.message)
            : t("newAnswer") + " " + str(r.answer.text);
          announce(said);
        } else {
          var texts = errorTexts(turn.error);
          announce(t("errorTitle") + " — " + texts.title + (texts.detail ? " " + texts.detail : ""));
        }
        var active = document.activeElement;
        if (!active || active === document.body || active === els.send) els.question.focus();
      });
  }

  function clearConversation() {
    requestGeneration += 1;
    if (currentController) currentController.abort();
    currentController = null;
    turns = [];
    openClosest = {};
    saveTurns();
    setBusy(false);
    renderConversation();
    announce(t("cleared"));
    els.question.focus();
  }

  function autoResize() {
    var q = els.question;
    q.style.height = "auto";
    var max = Math.max(120, Math.round(window.innerHeight * 0.35));
    q.style.height = Math.min(q.scrollHeight + 2, max) + "px";
  }

  /* ---------- source viewer ---------- */

  function fetchDocument(id) {
    if (documentCache.has(id)) return documentCache.get(id);
    var promise = fetch("/api/documents/" + encodeURIComponent(id), { headers: apiHeaders() })
      .then(function (res) {
        if (!res.ok) {
          return readError(res).then(function (error) {
            var err = new Error(error.detail || "HTTP " + res.status);
            err.detail = error.detail;
            throw err;
          });
        }
        return res.json().then(function (doc) {
          if (!doc || typeof doc.text !== "string") throw new Error("bad document");
          return doc;
        });
      });
    documentCache.set(id, promise);
    promise.catch(function () { documentCache.delete(id); });
    return promise;
  }

  function renderViewerMeta(citation, index) {
    var meta = els.viewerMeta;
    meta.replaceChildren();
    var badge = el("span", "lang-badge", badgeText(citation.language));
    badge.title = languageName(citation.language);
    meta.appendChild(badge);
    meta.appendChild(el("span", "viewer-passage", t("passageLabel")("[" + (index + 1) + "]")));
    if (str(citation.source)) meta.appendChild(el("span", "viewer-source", citation.source));
    var score = formatScore(citation.score);
    if (score) {
      var s = el("span", "score", score);
      s.title = t("scoreTitle");
      meta.appendChild(s);
    }
  }

  /** Fills #source-text with the document, the cited passage and the answer sentence marked. */
  function renderDocumentText(doc, response, index) {
    var citation = response.citations[index];
    var text = doc.text;
    var passageText = str(citation.text);
    var passage = passageText ? spanOf(text, citation.start, citation.end, passageText) : null;
    if (!passage && passageText) {
      var at = text.indexOf(passageText);
      if (at >= 0) passage = [at, at + passageText.length];
    }
    var target = els.viewerText;
    target.replaceChildren();
    setLangAttr(target, doc.language || citation.language);
    if (!passage) {
      target.appendChild(document.createTextNode(text));
      els.viewerNote.textContent = t("passageNotFoundInText");
      els.viewerNote.hidden = false;
      return null;
    }
    els.viewerNote.hidden = true;
    if (passage[0] > 0) target.appendChild(document.createTextNode(text.slice(0, passage[0])));
    var mark = el("mark", "cited-passage");
    appendMarked(mark, text.slice(passage[0], passage[1]), answerRangeInPassage(response, index), "answer-highlight");
    target.appendChild(mark);
    if (passage[1] < text.length) target.appendChild(document.createTextNode(text.slice(passage[1])));
    return mark;
  }

  function renderPassageOnly(response, index, message) {
    var citation = response.citations[index];
    els.viewerNote.textContent = message;
    els.viewerNote.hidden = false;
    var target = els.viewerText;
    target.replaceChildren();
    setLangAttr(target, citation.language);
    var mark = el("mark", "cited-passage");
    appendMarked(mark, str(citation.text), answerRangeInPassage(response, index), "answer-highlight");
    target.appendChild(mark);
    return mark;
  }

  function openViewer(response, index, opener) {
    var citation = response.citations[index];
    if (!citation) return;
    var generation = ++viewerGeneration;
    viewerOpener = opener || null;
    els.viewerTitle.textContent = str(citation.title) || str(citation.document_id);
    setLangAttr(els.viewerTitle, citation.language);
    renderViewerMeta(citation, index);
    els.viewerNote.hidden = true;
    els.viewerText.replaceChildren(el("p", "viewer-loading", t("loadingDocument")));
    els.viewerText.scrollTop = 0;
    if (!els.viewer.open) {
      if (typeof els.viewer.showModal === "function") els.viewer.showModal();
      else els.viewer.setAttribute("open", "");
    }
    els.viewerClose.focus();

    function reveal(mark) {
      if (!mark) return;
      window.requestAnimationFrame(function () {
        if (generation === viewerGeneration && els.viewer.open) mark.scrollIntoView({ block: "center" });
      });
    }

    fetchDocument(str(citation.document_id)).then(function (doc) {
      if (generation !== viewerGeneration) return;
      reveal(renderDocumentText(doc, response, index));
    }, function (err) {
      if (generation !== viewerGeneration) return;
      var message = t("documentError") + (err && err.detail ? " " + err.detail : "");
      if (str(citation.text)) reveal(renderPassageOnly(response, index, message + " " + t("passageOnly")));
      else {
        els.viewerText.replaceChildren(el("p", "viewer-error", message));
      }
    });
  }

  function closeViewer() {
    if (els.viewer.open) els.viewer.close();
  }

  function onViewerClosed() {
    viewerGeneration += 1;
    var opener = viewerOpener;
    viewerOpener = null;
    if (opener && opener.isConnected) opener.focus();
    else els.question.focus();
  }

  /* ---------- events ---------- */

  function responseForNode(node) {
    var message = node.closest(".message.assistant");
    if (!message) return null;
    var turn = turns[Number(message.dataset.turn)];
    return turn && turn.response ? turn.response : null;
  }

  function activate(node) {
    var response = responseForNode(node);
    var index = Number(node.dataset.citation);
    if (response && Number.isInteger(index) && response.citations[index]) openViewer(response, index, node);
  }

  function selectionInside(node) {
    var selection = window.getSelection && window.getSelection();
    return !!selection && !selection.isCollapsed && node.contains(selection.anchorNode) &&
      selection.toString().trim() !== "";
  }

  els.conversation.addEventListener("click", function (event) {
    var button = event.target.closest("button.cite-marker, button.citation-open");
    if (button) {
      activate(button);
      return;
    }
    // a click anywhere on a card opens it too (for the mouse; keyboards use its title button),
    // unless it ends a text selection
    var card = event.target.closest(".citation-card");
    if (card && !selectionInside(card)) activate(card);
  });

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    ask(els.question.value);
  });

  els.question.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    if (busy) return;
    if (typeof els.form.requestSubmit === "function") els.form.requestSubmit(els.send);
    else ask(els.question.value);
  });

  els.question.addEventListener("input", autoResize);
  var resizeTimer = 0;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () { markClamped(); }, 150);
  });
  els.clear.addEventListener("click", clearConversation);
  els.langSwitch.addEventListener("click", switchLanguage);
  els.viewerClose.addEventListener("click", closeViewer);
  els.viewer.addEventListener("close", onViewerClosed);
  els.viewer.addEventListener("click", function (event) {
    // A click on the backdrop lands on the <dialog> itself (its content fills it).
    if (event.target !== els.viewer) return;
    var box = els.viewer.getBoundingClientRect();
    var inside = event.clientX >= box.left && event.clientX <= box.right &&
      event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) closeViewer();
  });

  /* ---------- start ---------- */

  applyLanguage();
  renderConversation();
  loadLimits();
  loadIntroDocuments();
  if (turns.length) {
    var last = els.conversation.lastElementChild;
    if (last) window.requestAnimationFrame(function () { scrollToNode(last, "start"); });
  }
})();

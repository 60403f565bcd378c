/* Interface strings in French and English, and the choice of language.
   Loaded synchronously in <head> so that <html lang> is right before the first paint. */
(function () {
  "use strict";

  var STORAGE_KEY = "assistant.lang";

  var STRINGS = {
    en: {
      pageTitle: "Document assistant",
      appTitle: "Document assistant",
      tagline: "Ask a question in French or English; every answer quotes its sources.",
      skipToQuestion: "Skip to the question box",
      switchLabel: "Français",
      switchTitle: "Passer l’interface en français",
      switchLang: "fr",
      clear: "Clear conversation",
      cleared: "Conversation cleared.",
      conversationLabel: "Conversation",
      introTitle: "Ask about the documents",
      introText: "Questions can be in French or English. Each answer quotes the sentence it comes from; open a source to read it in its document.",
      introDocs: "Indexed documents",
      questionLabel: "Your question",
      placeholder: "Ask a question about the documents…",
      hint: "Enter to send · Shift+Enter for a new line",
      send: "Send",
      searching: "Searching…",
      you: "You",
      assistant: "Assistant",
      sourcesLabel: "Sources",
      markerLabel: function (n, title) { return "Source " + n + " of the answer: " + title; },
      cardLabel: function (n, title) { return "Open source " + n + ", " + title; },
      scoreTitle: "Relevance of the passage to the question",
      scoreLabel: "Relevance",
      answerHere: "Answer:",
      sourceHeading: "Source",
      relatedHeading: function (n) { return "Related passages (" + n + ")"; },
      page: function (n) { return "p. " + n; },
      why: function (sim, terms) { return "Meaning similarity " + sim + " · shared words: " + terms; },
      whySemantic: function (sim) { return "Meaning similarity " + sim + " (no shared words)"; },
      tookMs: function (ms) { return ms + " ms"; },
      newAnswer: "New answer:",
      languages: { fr: "French", en: "English" },
      languageOf: function (code) { return "Language: " + code; },
      close: "Close",
      documentText: "Document text",
      loadingDocument: "Loading the document…",
      documentError: "The document could not be loaded.",
      passageOnly: "Only the cited passage is shown.",
      passageNotFoundInText: "The cited passage could not be located in this version of the document.",
      passageLabel: function (n) { return "Passage " + n; },
      errorTitle: "Error",
      errEmpty: "Type a question first.",
      errNetwork: "The server could not be reached. Check that it is running, then try again.",
      errTimeout: "The server took too long to answer. Try again.",
      errBadResponse: "The server sent a response this page cannot read.",
      err401: "This service requires an API key.",
      apiKeyLabel: "API key",
      apiKeyUse: "Use this key and ask again",
      err413: "The question is too long.",
      err422: "The question could not be processed.",
      err429: "Too many requests: wait a moment, then try again.",
      err500: "The server ran into an error.",
      err503: "The service is not ready.",
      errHttp: function (status) { return "The request failed (HTTP " + status + ")."; },
      retry: "Try again",
      // Lines shown in the language of the question (see questionStrings).
      abstainTitle: "No answer found.",
      closest: function (n) { return "Closest passages (" + n + ")"; },
      noPassages: "No passage is close to this question."
    },
    fr: {
      pageTitle: "Assistant documentaire",
      appTitle: "Assistant documentaire",
      tagline: "Posez une question en français ou en anglais ; chaque réponse cite ses sources.",
      skipToQuestion: "Aller à la zone de question",
      switchLabel: "English",
      switchTitle: "Switch the interface to English",
      switchLang: "en",
      clear: "Effacer la conversation",
      cleared: "Conversation effacée.",
      conversationLabel: "Conversation",
      introTitle: "Interrogez les documents",
      introText: "Les questions peuvent être en français ou en anglais. Chaque réponse cite la phrase d’où elle vient ; ouvrez une source pour la lire dans son document.",
      introDocs: "Documents indexés",
      questionLabel: "Votre question",
      placeholder: "Posez une question sur les documents…",
      hint: "Entrée pour envoyer · Maj+Entrée pour aller à la ligne",
      send: "Envoyer",
      searching: "Recherche…",
      you: "Vous",
      assistant: "Assistant",
      sourcesLabel: "Sources",
      markerLabel: function (n, title) { return "Source " + n + " de la réponse : " + title; },
      cardLabel: function (n, title) { return "Ouvrir la source " + n + ", " + title; },
      scoreTitle: "Pertinence du passage pour la question",
      scoreLabel: "Pertinence",
      answerHere: "Réponse :",
      sourceHeading: "Source",
      relatedHeading: function (n) { return "Passages associés (" + n + ")"; },
      page: function (n) { return "p. " + n; },
      why: function (sim, terms) { return "Similarité de sens " + sim + " · mots en commun : " + terms; },
      whySemantic: function (sim) { return "Similarité de sens " + sim + " (aucun mot en commun)"; },
      tookMs: function (ms) { return ms + " ms"; },
      newAnswer: "Nouvelle réponse :",
      languages: { fr: "français", en: "anglais" },
      languageOf: function (code) { return "Langue : " + code; },
      close: "Fermer",
      documentText: "Texte du document",
      loadingDocument: "Chargement du document…",
      documentError: "Le document n’a pas pu être chargé.",
      passageOnly: "Seul le passage cité est affiché.",
      passageNotFoundInText: "Le passage cité est introuvable dans cette version du document.",
      passageLabel: function (n) { return "Passage " + n; },
      errorTitle: "Erreur",
      errEmpty: "Saisissez d’abord une question.",
      errNetwork: "Le serveur est injoignable. Vérifiez qu’il est démarré, puis réessayez.",
      errTimeout: "Le serveur a mis trop de temps à répondre. Réessayez.",
      errBadResponse: "Le serveur a envoyé une réponse illisible pour cette page.",
      err401: "Ce service demande une clé d’API.",
      apiKeyLabel: "Clé d’API",
      apiKeyUse: "Utiliser cette clé et reposer la question",
      err413: "La question est trop longue.",
      err422: "La question n’a pas pu être traitée.",
      err429: "Trop de requêtes : patientez un instant, puis réessayez.",
      err500: "Le serveur a rencontré une erreur.",
      err503: "Le service n’est pas prêt.",
      errHttp: function (status) { return "La requête a échoué (HTTP " + status + ")."; },
      retry: "Réessayer",
      abstainTitle: "Aucune réponse trouvée.",
      closest: function (n) { return "Passages les plus proches (" + n + ")"; },
      noPassages: "Aucun passage n’est proche de cette question."
    }
  };

  function normalize(code) {
    return typeof code === "string" && code.toLowerCase().indexOf("fr") === 0 ? "fr" : "en";
  }

  function stored() {
    try {
      var value = window.localStorage.getItem(STORAGE_KEY);
      return value === "fr" || value === "en" ? value : null;
    } catch (e) {
      return null;
    }
  }

  function initialLanguage() {
    return stored() || normalize(navigator.language || "");
  }

  function remember(lang) {
    try {
      window.localStorage.setItem(STORAGE_KEY, lang);
    } catch (e) {
      /* storage unavailable (private mode, quota): the choice lasts for this page only */
    }
  }

  /** The strings of `lang` ("fr"/"en"); anything else gets English. */
  function strings(lang) {
    return STRINGS[lang] || STRINGS.en;
  }

  window.AssistantI18n = {
    STORAGE_KEY: STORAGE_KEY,
    initialLanguage: initialLanguage,
    remember: remember,
    strings: strings,
    isSupported: function (lang) { return lang === "fr" || lang === "en"; }
  };

  document.documentElement.lang = initialLanguage();
})();

// /api/docs: Swagger UI (served from static/vendor/swagger-ui) rendering /api/openapi.json.
// No validator badge (it would call an outside server); nothing leaves this origin.
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.dataset.spec,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    defaultModelsExpandDepth: 0,
    docExpansion: "list",
    onComplete: function () { el.dataset.ready = "1"; }
  });
})();

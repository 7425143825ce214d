// The API reference page (/api/v1/docs): Swagger UI on the app's own OpenAPI document.
// A static file, not an inline script: the CSP allows scripts from 'self' only.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    layout: "BaseLayout",
    // The bearer token is typed in the "Authorize" dialog; it is never stored.
    persistAuthorization: false,
  });
})();

// The API reference: Swagger UI (its npm package's own bundle) showing the broker's OpenAPI document.
// "Try it out" sends the request to the broker, whose CORS admits this page's origin.
const config = JSON.parse(document.getElementById("lab-config").textContent);

window.ui = SwaggerUIBundle({
  url: config.documentUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No request to Swagger's online validator: the page talks to this lab only.
  validatorUrl: null,
});

// Vite's ambient types: `?raw` imports (a file's text) used by the demo pages to show their code.
/// <reference types="vite/client" />

/** The few DOM helpers the dashboard needs (no framework: the page stays small). */

export function el<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found as T;
}

/** Sets an element's text, and its `data-value` (what tests and scripts read) when given. */
export function show(id: string, text: string, value?: number): void {
  const node = el(id);
  if (node.textContent !== text) node.textContent = text;
  if (value !== undefined) node.dataset['value'] = String(value);
}

/** A new element with a class, text and data attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: { className?: string; text?: string; title?: string; data?: Record<string, string | number> } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (options.className) e.className = options.className;
  if (options.text !== undefined) e.textContent = options.text;
  if (options.title !== undefined) e.title = options.title;
  for (const [k, v] of Object.entries(options.data ?? {})) e.dataset[k] = String(v);
  e.append(...children);
  return e;
}

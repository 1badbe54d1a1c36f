// Bespoke's reference storefront: the product list (/) and the configurator (/p/{product}),
// built on the public HTTP API only (docs/storefront.md says which call each click makes).
// Plain JavaScript, no build step, no dependencies.
'use strict';

/**
 * Every string the page shows, in one place. A shop translates the page by editing this object
 * or by defining `window.BESPOKE_STRINGS = {…}` (any subset of these keys) in a script loaded
 * before this one. `{name}` placeholders are filled in. `locale` drives the formatting of
 * prices, numbers, dates and lists ('' = the browser's language).
 */
const STRINGS = {
  lang: 'en',
  locale: '',
  shopName: 'Bespoke',
  skipToContent: 'Skip to content',
  footer: 'Every piece is made to order for you.',
  loading: 'Loading…',
  productsTitle: 'Make it yours',
  productsIntro: 'Choose a product, pick every detail and see it change as you go.',
  productsEmpty: 'There are no products to configure yet.',
  fromPrice: 'from {price}',
  allProducts: 'All products',
  breadcrumb: 'Breadcrumb',
  productNotFound: 'We could not find this product.',
  backToProducts: 'See all products',
  networkError: 'We could not reach the shop. Check your connection and try again.',
  serverError: 'Something went wrong: {detail}',
  retry: 'Try again',
  dismiss: 'Dismiss',
  previewAlt: 'Preview of your {product}',
  previewUpdating: 'Updating the preview…',
  previewFailed: 'The preview could not be drawn for these choices.',
  none: 'None',
  notChosen: 'Not chosen',
  suggested: 'We suggest {value}',
  surcharge: '+{price}',
  perUnit: '+{price} per {unit}',
  perCharacter: '+{price} per character',
  unitFallback: 'unit',
  unavailable: 'Not available.',
  unavailableWithChoices: 'Not available with your choices.',
  becauseYouChose: 'Because you chose {choices}.',
  choiceIs: '{option}: {value}',
  unavailableNotice: '{value} does not go with your other choices.',
  chooseAnyway: 'Choose {value} anyway',
  decrease: 'Less {option}',
  increase: 'More {option}',
  rangeHint: '{min} to {max}',
  rangeStepHint: '{min} to {max}, in steps of {step}',
  rangeValuesHint: 'Possible: {values}',
  rangeNone: 'No value fits your other choices.',
  excludedBelow: 'Less than {value}: {reason}',
  excludedAbove: 'More than {value}: {reason}',
  excludedValue: 'Not {value}: {reason}',
  numberInvalid: 'Enter a whole number from {min} to {max}.',
  numberStep: 'Enter a multiple of {step}, such as {example}.',
  textLength: 'Up to {max} characters',
  textLengthRange: '{min} to {max} characters',
  textFeasible: 'At most {max} characters with your choices.',
  textAllowed: 'Allowed: {chars}.',
  textCount: '{count} of {max}',
  textTooLong: 'Use at most {max} characters.',
  textTooShort: 'Use at least {min} characters, or leave it empty.',
  textBadChars: 'These characters cannot be made: {chars}',
  textPattern: 'This text is not in a form we can make.',
  charsetUpper: 'capital letters',
  charsetLower: 'small letters',
  charsetDigits: 'digits',
  charsetSpace: 'spaces',
  charsetRange: '{from} to {to}',
  uploadChoose: 'Choose an image…',
  uploadReplace: 'Choose another image…',
  uploadRemove: 'Remove the image',
  uploadHint: 'PNG, JPEG or WebP.',
  uploading: 'Uploading…',
  uploadDone: 'Image added.',
  uploadFailed: 'This image cannot be used: {detail}',
  uploadPreviewAlt: 'Your image',
  priceTitle: 'Price',
  priceFromTo: 'From {min} to {max}',
  priceRangeNote: 'The final price depends on the choices still open.',
  priceUnknown: 'Price on completion',
  priceUnknownNote: 'Choose a few more options to see the price.',
  priceConflict: 'Resolve the conflict to see the price.',
  priceEach: '{quantity} × {unit}',
  priceDetails: 'Price details',
  priceTotal: 'Total',
  openOptions: 'Not chosen yet: {options}. We will use our suggestions.',
  needsInput: 'Please fill in: {options}.',
  conflictTitle: 'These choices do not go together',
  repairChange: 'change {option} to {value}',
  repairRemove: 'remove {option}',
  repairQuestion: '{changes}?',
  undoLast: 'Undo my last choice',
  completeForMe: 'Complete for me',
  startOver: 'Start over',
  addToCart: 'Add to cart',
  saving: 'Saving…',
  addBlockedConflict: 'Resolve the conflict before adding to the cart.',
  cartTitle: 'In your cart',
  cartLine: '{product}, design {id}',
  designNumber: 'Design number',
  designKept: 'Saved until {date}.',
  shareLink: 'Link to this design',
  copyLink: 'Copy link',
  linkCopied: 'Link copied.',
  placeOrder: 'Order now',
  ordering: 'Placing your order…',
  orderFailed: 'Your order was not placed: {detail}',
  orderRetryNote: 'Trying again will not order twice.',
  orderTitle: 'Thank you for your order',
  orderNumber: 'Order number',
  orderStatus: 'Status',
  orderTotal: 'Total',
  status_submitted: 'Received',
  status_accepted: 'Accepted',
  status_in_production: 'In production',
  status_shipped: 'Shipped',
  status_cancelled: 'Cancelled',
  designOpened: 'You are looking at saved design {id}.',
  designExpired: 'That saved design has expired or does not exist. You can start a new one here.',
  designChanged: 'This product has changed since the design was saved: check your choices and the price.',
};

(() => {
  const T = Object.assign({}, STRINGS, window.BESPOKE_STRINGS || {});
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || '';
  /** Where the API is: '' for the same origin, or e.g. `https://configure.example.com`. */
  const API = meta('bespoke-api').replace(/\/+$/, '');
  /** Where these pages are mounted: '' at the root, or a path prefix such as `/design`. */
  const BASE = meta('bespoke-base').replace(/\/+$/, '');
  const LOCALE = T.locale || navigator.language || 'en';
  const main = document.getElementById('main');

  // ---------------------------------------------------------------------------------------
  // Small helpers

  function t(key, vars) {
    const text = T[key] === undefined ? key : String(T[key]);
    return text.replace(/\{(\w+)\}/g, (m, k) => (vars && vars[k] !== undefined ? vars[k] : m));
  }

  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid !== null && kid !== undefined && kid !== false) e.append(kid);
    }
    return e;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function listText(items) {
    try {
      return new Intl.ListFormat(LOCALE, { style: 'long', type: 'conjunction' }).format(items);
    } catch (e) {
      return items.join(', ');
    }
  }

  function capitalise(s) {
    return s ? s.charAt(0).toLocaleUpperCase(LOCALE) + s.slice(1) : s;
  }

  const moneyFormats = new Map();
  /** A decimal amount string formatted in `currency`, without going through a float. */
  function money(amount, currency) {
    if (amount === null || amount === undefined) return '';
    let f = moneyFormats.get(currency);
    if (!f) {
      try {
        f = new Intl.NumberFormat(LOCALE, { style: 'currency', currency });
      } catch (e) {
        f = { format: (a) => `${a} ${currency}` };
      }
      moneyFormats.set(currency, f);
    }
    // Intl.NumberFormat reads a string as an exact decimal (ECMA-402 NumberFormat v3).
    return f.format(String(amount));
  }

  function number(n) {
    return new Intl.NumberFormat(LOCALE).format(n);
  }

  function date(iso) {
    try {
      return new Intl.DateTimeFormat(LOCALE, { dateStyle: 'long' }).format(new Date(iso));
    } catch (e) {
      return iso;
    }
  }

  /** A random Idempotency-Key (works outside secure contexts too). */
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return 'sf-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  /** A selection as a JSON object whose members keep the shopper's order (oldest first). */
  function selectionJson(choices) {
    return '{' + choices.map(([k, v]) => JSON.stringify(k) + ':' + JSON.stringify(v)).join(',') + '}';
  }

  function problemText(res) {
    if (res.network) return T.networkError;
    const p = res.problem || {};
    return p.detail || p.title || String(res.status);
  }

  /**
   * One API call. Answers `{ok, status, data}` or `{ok: false, status, problem, network}`;
   * throws only when aborted.
   */
  async function api(method, path, opts) {
    const o = opts || {};
    const headers = Object.assign({ Accept: 'application/json' }, o.headers || {});
    const init = { method, headers, signal: o.signal };
    if (o.body !== undefined) {
      init.body = o.body;
      if (typeof o.body === 'string') headers['Content-Type'] = 'application/json';
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      return { ok: false, status: 0, network: true, problem: null };
    }
    let data = null;
    try {
      const text = await res.text();
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      data = null;
    }
    if (res.ok) return { ok: true, status: res.status, data };
    return { ok: false, status: res.status, problem: data };
  }

  const enc = encodeURIComponent;
  const productHref = (id) => `${BASE}/p/${enc(id)}`;

  function errorBox(message, onRetry) {
    return el('div', { class: 'notice notice--error', role: 'alert' },
      el('p', { text: message }),
      onRetry ? el('button', { type: 'button', class: 'button', onclick: onRetry, text: T.retry }) : null);
  }

  // ---------------------------------------------------------------------------------------
  // The page frame

  function frame() {
    document.documentElement.lang = T.lang;
    const skip = document.getElementById('skip');
    if (skip) skip.textContent = T.skipToContent;
    const brand = document.getElementById('brand');
    if (brand) {
      brand.textContent = T.shopName;
      brand.href = BASE + '/';
    }
    const footer = document.getElementById('footer');
    if (footer) footer.textContent = T.footer;
  }

  function setTitle(part) {
    document.title = part ? `${part} · ${T.shopName}` : T.shopName;
  }

  // ---------------------------------------------------------------------------------------
  // The product list

  async function productList() {
    setTitle('');
    main.setAttribute('aria-busy', 'true');
    main.replaceChildren(el('p', { class: 'loading', text: T.loading }));
    const res = await api('GET', '/v1/products');
    main.setAttribute('aria-busy', 'false');
    if (!res.ok) {
      main.replaceChildren(errorBox(problemText(res), productList));
      return;
    }
    const cards = res.data.map((p) =>
      el('li', { class: 'product-card', 'data-product': p.id },
        el('a', { class: 'card', href: productHref(p.id) },
          el('span', { class: 'card-media' },
            el('img', { src: API + p.thumbnail, alt: '', width: 256, height: 256, loading: 'lazy', decoding: 'async' })),
          el('span', { class: 'card-body' },
            el('span', { class: 'card-name', text: p.name }),
            p.description ? el('span', { class: 'card-desc', text: p.description }) : null,
            el('span', { class: 'card-price', text: t('fromPrice', { price: money(p.from_price, p.currency) }) })))));
    main.replaceChildren(
      el('div', { class: 'intro' },
        el('h1', { text: T.productsTitle }),
        el('p', { class: 'lead', text: T.productsIntro })),
      cards.length
        ? el('ul', { class: 'products', role: 'list' }, cards)
        : el('p', { text: T.productsEmpty }));
  }

  // ---------------------------------------------------------------------------------------
  // The configurator

  /** What the configurator holds between answers. */
  const S = {
    product: '',
    schema: null,
    /** The shopper's choices, oldest first: [[option, typed value], …]. */
    choices: [],
    /** The choices before the last change (for "undo"), and the last ones the server took. */
    undo: null,
    good: [],
    answer: null,
    structure: '',
    seq: 0,
    controller: null,
    views: new Map(),
    design: null,
    order: null,
    orderKey: null,
    /** The product version of a design opened from its link, until the first answer is drawn. */
    pinnedVersion: null,
    /** What moves the focus once the next answer is drawn (after a choice made from a notice). */
    focusAfter: null,
  };
  const ui = {};

  function optionLabel(id) {
    const o = S.answer && S.answer.options.find((x) => x.id === id);
    return o ? o.label : id;
  }

  /** A reason (`{rules, choices}`) in the shopper's words. */
  function reasonText(reason) {
    if (!reason) return T.unavailable;
    const messages = (reason.rules || []).map((r) => r.message).filter(Boolean);
    const parts = [messages.length ? messages.join(' ') : T.unavailableWithChoices];
    const choices = (reason.choices || []).map((c) =>
      t('choiceIs', { option: optionLabel(c.option), value: c.label || String(c.value) }));
    if (choices.length) parts.push(t('becauseYouChose', { choices: listText(choices) }));
    return parts.join(' ');
  }

  /**
   * The reason of a value whose answer deferred it (`reason_deferred`: not worked out within
   * the answer's time), asked for when the shopper wants to know; null if none came.
   */
  async function explainDeferred(option, value) {
    const res = await api('POST', `/v1/products/${enc(S.product)}/explain`, {
      body: '{"selection":' + selectionJson(S.choices) + ',"option":' + JSON.stringify(option) +
        ',"value":' + JSON.stringify(value === undefined ? null : value) + '}',
    });
    return res.ok && res.data && res.data.available === false ? res.data.reason : null;
  }

  function setChoices(choices) {
    S.undo = S.choices.slice();
    S.choices = choices;
    configure();
  }

  function choose(option, value) {
    const next = S.choices.filter(([k]) => k !== option);
    if (value !== null && value !== undefined) next.push([option, value]);
    setChoices(next);
  }

  function chosen(option) {
    const c = S.choices.find(([k]) => k === option);
    return c ? c[1] : undefined;
  }

  async function productPage(id, designId) {
    S.product = id;
    main.setAttribute('aria-busy', 'true');
    main.replaceChildren(el('p', { class: 'loading', text: T.loading }));
    const [schema, design] = await Promise.all([
      api('GET', `/v1/products/${enc(id)}`),
      designId ? api('GET', `/v1/designs/${enc(designId)}`) : null,
    ]);
    main.setAttribute('aria-busy', 'false');
    if (!schema.ok) {
      if (schema.status === 404) {
        setTitle(T.productNotFound);
        main.replaceChildren(el('div', { class: 'notice' },
          el('h1', { text: T.productNotFound }),
          el('p', {}, el('a', { href: BASE + '/', text: T.backToProducts }))));
      } else {
        main.replaceChildren(errorBox(problemText(schema), () => productPage(id, designId)));
      }
      return;
    }
    S.schema = schema.data;
    setTitle(S.schema.name);
    buildPage();
    if (design && design.ok && design.data.product === id) {
      const d = design.data;
      // What the defaults filled is the oldest part of the selection: a repair changes it first.
      const filled = new Set(d.filled);
      const entries = Object.entries(d.selection);
      S.choices = entries.filter(([k]) => filled.has(k)).concat(entries.filter(([k]) => !filled.has(k)));
      S.design = d;
      S.pinnedVersion = d.version;
      notice(t('designOpened', { id: d.id }));
      renderCart();
    } else if (designId) {
      notice(T.designExpired);
    }
    await configure();
  }

  function notice(text) {
    const n = el('div', { class: 'notice', role: 'status' },
      el('p', { text }),
      el('button', { type: 'button', class: 'link', text: T.dismiss, onclick: () => n.remove() }));
    ui.notices.append(n);
  }

  function buildPage() {
    const p = S.schema;
    ui.preview = el('img', { id: 'preview', class: 'preview-img', alt: t('previewAlt', { product: p.name }), width: 512, height: 512 });
    ui.previewStatus = el('p', { class: 'preview-status', 'aria-live': 'polite' });
    ui.figure = el('figure', { class: 'preview', 'data-state': 'loading' }, ui.preview, ui.previewStatus);
    ui.price = el('p', { id: 'price', class: 'price', 'aria-live': 'polite', 'aria-atomic': 'true' });
    ui.priceNote = el('p', { id: 'price-note', class: 'price-note' });
    ui.breakdownBody = el('tbody');
    ui.breakdownFoot = el('tfoot');
    ui.breakdown = el('details', { id: 'breakdown', class: 'breakdown' },
      el('summary', { text: T.priceDetails }),
      el('table', {}, el('caption', { class: 'visually-hidden', text: T.priceDetails }), ui.breakdownBody, ui.breakdownFoot));
    ui.open = el('p', { id: 'open-options', class: 'open-options' });
    ui.complete = el('button', { id: 'complete', type: 'button', class: 'button', text: T.completeForMe, onclick: complete });
    ui.add = el('button', { id: 'add-to-cart', type: 'button', class: 'button button--primary', text: T.addToCart, onclick: addToCart });
    ui.addHint = el('p', { id: 'add-hint', class: 'hint', 'aria-live': 'polite' });
    ui.startOver = el('button', { id: 'start-over', type: 'button', class: 'link', text: T.startOver, onclick: () => setChoices([]) });
    ui.summary = el('section', { class: 'summary', 'aria-labelledby': 'summary-title' },
      el('h2', { id: 'summary-title', class: 'visually-hidden', text: T.priceTitle }),
      el('div', { class: 'buy' }, el('div', { class: 'buy-price' }, ui.price, ui.priceNote), ui.add),
      ui.addHint, ui.breakdown, ui.open,
      el('div', { class: 'more-actions' }, ui.complete, ui.startOver));
    ui.cart = el('section', { id: 'cart', class: 'cart', 'aria-labelledby': 'cart-title', hidden: true });
    ui.notices = el('div', { class: 'notices' });
    ui.conflict = el('div', { id: 'conflict', class: 'conflict', role: 'alert', hidden: true });
    ui.form = el('form', { id: 'options', class: 'options', novalidate: true, 'aria-busy': 'true', onsubmit: (e) => e.preventDefault() });
    main.replaceChildren(
      el('nav', { class: 'crumbs', 'aria-label': T.breadcrumb },
        el('a', { href: BASE + '/', text: T.allProducts }),
        el('span', { 'aria-hidden': 'true', text: ' / ' }),
        el('span', { 'aria-current': 'page', text: p.name })),
      el('div', { class: 'configurator' },
        el('header', { class: 'product-head' },
          el('h1', { text: p.name }),
          p.description ? el('p', { class: 'lead', text: p.description }) : null),
        // The options come before the preview and the price in the document (and so in the
        // tab order: choose, then buy); the layout puts the preview on the left from 900 px.
        el('div', { class: 'panel' }, ui.notices, ui.conflict, ui.form),
        el('div', { class: 'stage' }, ui.figure, ui.summary, ui.cart)));
    S.structure = '';
  }

  async function configure() {
    const seq = ++S.seq;
    if (S.controller) S.controller.abort();
    const controller = new AbortController();
    S.controller = controller;
    ui.form.setAttribute('aria-busy', 'true');
    let res;
    try {
      res = await api('POST', `/v1/products/${enc(S.product)}/configure`,
        { body: '{"selection":' + selectionJson(S.choices) + '}', signal: controller.signal });
    } catch (e) {
      return; // aborted: a newer request is on its way
    }
    if (seq !== S.seq) return;
    ui.form.setAttribute('aria-busy', 'false');
    if (!res.ok) {
      const option = res.problem && res.problem.option;
      const view = option && S.views.get(option);
      if (res.status === 422 && view) {
        // The server refused one value (e.g. text it cannot make): keep the last good choices.
        S.choices = S.good.slice();
        view.error(problemText(res));
        return;
      }
      ui.notices.replaceChildren(errorBox(problemText(res), () => { ui.notices.replaceChildren(); configure(); }));
      return;
    }
    S.good = S.choices.slice();
    S.answer = res.data;
    render();
  }

  function render() {
    const a = S.answer;
    const structure = JSON.stringify(a.options.map((o) => [o.id, o.type, o.group, o.values.map((v) => v.value)]));
    if (structure !== S.structure) {
      buildOptions(a.options);
      S.structure = structure;
    }
    const suggestion = (a.completion && a.completion.selection) || {};
    for (const o of a.options) S.views.get(o.id).update(o, suggestion[o.id]);
    renderConflict(a);
    renderPrice(a);
    renderActions(a);
    schedulePreview(a.preview_url);
    if (S.pinnedVersion && S.pinnedVersion !== a.version) {
      notice(T.designChanged);
      S.pinnedVersion = null;
    } else if (S.pinnedVersion) {
      S.pinnedVersion = null;
    }
    if (S.focusAfter) {
      const f = S.focusAfter;
      S.focusAfter = null;
      f();
    }
  }

  // ----- option views: each kind draws itself once and updates in place on every answer

  function buildOptions(options) {
    const groups = new Map((S.schema.groups || []).map((g) => [g.id, g.label]));
    const focusedOption = document.activeElement && document.activeElement.closest('[data-option]');
    const refocus = focusedOption && focusedOption.dataset.option;
    S.views = new Map();
    const parts = [];
    let current = null;
    let currentGroup;
    for (const o of options) {
      if (!current || o.group !== currentGroup) {
        currentGroup = o.group;
        current = o.group
          ? el('fieldset', { class: 'group', 'data-group': o.group }, el('legend', { text: groups.get(o.group) || o.group }))
          : el('div', { class: 'group group--plain' });
        parts.push(current);
      }
      const view = optionView(o);
      S.views.set(o.id, view);
      current.append(view.root);
    }
    ui.form.replaceChildren(...parts);
    if (refocus && S.views.get(refocus)) S.views.get(refocus).focus();
  }

  function optionView(o) {
    if (o.type === 'boolean') return booleanView(o);
    if (o.type === 'integer' || o.type === 'quantity') return numberView(o);
    if (o.type === 'text') return textView(o);
    if (o.type === 'upload') return uploadView(o);
    return choiceView(o);
  }

  /** The parts every option shares: its label, price, description, notes and error line. */
  function optionShell(o, labelFor) {
    const ids = { label: `lbl-${o.id}`, desc: `desc-${o.id}`, note: `note-${o.id}`, error: `err-${o.id}` };
    const label = labelFor
      ? el('label', { id: ids.label, class: 'option-label', for: labelFor, text: o.label })
      : el('span', { id: ids.label, class: 'option-label', text: o.label });
    const current = el('span', { class: 'option-current' });
    const price = el('span', { class: 'option-price' });
    const desc = o.description ? el('p', { id: ids.desc, class: 'option-desc', text: o.description }) : null;
    const note = el('p', { id: ids.note, class: 'option-note' });
    const error = el('p', { id: ids.error, class: 'option-error', role: 'alert' });
    const root = el('div', { class: `option option--${o.type}`, 'data-option': o.id, 'data-type': o.type, id: `opt-${o.id}` },
      el('div', { class: 'option-head' }, label, current, price));
    if (desc) root.append(desc);
    return { ids, root, current, price, note, error, describedBy: [desc ? ids.desc : null, ids.note, ids.error].filter(Boolean).join(' ') };
  }

  /** An option's own surcharge and price per unit (per character for text), as the shopper reads them. */
  function optionPrice(o) {
    const currency = S.schema.currency;
    const parts = [];
    if (o.price && Number(o.price) !== 0) parts.push(t('surcharge', { price: money(o.price, currency) }));
    if (o.price_per_unit && Number(o.price_per_unit) !== 0) {
      const price = money(o.price_per_unit, currency);
      parts.push(o.type === 'text' ? t('perCharacter', { price })
        : t('perUnit', { price, unit: (o.range && o.range.unit) || T.unitFallback }));
    }
    return parts.join(', ');
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /** Choice options (and optional ones' "none"): swatches, image tiles, chips, or a select. */
  function choiceView(o) {
    const swatches = o.values.some((v) => v.swatch);
    const images = !swatches && o.values.some((v) => v.image);
    const withNone = !o.required;
    const total = o.values.length + (withNone ? 1 : 0);
    if (total > 16 && !swatches && !images) return selectView(o);
    const shell = optionShell(o, null);
    const kind = swatches ? 'swatch' : images ? 'tile' : 'chip';
    const group = el('div', { role: 'radiogroup', class: `values values--${kind}`, 'aria-labelledby': shell.ids.label, 'aria-describedby': shell.describedBy });
    const info = el('p', { class: 'value-info', 'aria-hidden': 'true' });
    const notice = el('div', { class: 'value-notice', hidden: true });
    const items = [];
    const entries = (withNone ? [{ value: null, label: T.none, none: true }] : []).concat(o.values);
    for (const v of entries) {
      const key = v.none ? '' : String(v.value);
      const reasonId = `why-${o.id}-${key || 'none'}`.replace(/[^\w-]/g, '_');
      const reason = el('span', { id: reasonId, class: 'visually-hidden' });
      const labelText = el('span', { class: kind === 'swatch' ? 'visually-hidden' : 'value-label', text: v.label });
      const priceText = el('span', { class: 'value-price' });
      const button = el('button', {
        type: 'button', role: 'radio', class: `value value--${kind}`, 'data-value': key, 'aria-checked': 'false', tabindex: '-1',
      });
      if (kind === 'swatch') {
        const dot = el('span', { class: 'swatch', 'aria-hidden': 'true' });
        if (v.swatch) dot.style.background = v.swatch;
        else dot.classList.add('swatch--none');
        button.append(dot, labelText);
        priceText.className = 'visually-hidden';
        button.append(priceText);
      } else if (kind === 'tile') {
        button.append(v.image ? el('img', { src: API + v.image, alt: '', loading: 'lazy', decoding: 'async' }) : el('span', { class: 'tile-none', 'aria-hidden': 'true' }), labelText, priceText);
      } else {
        button.append(labelText, priceText);
      }
      const item = { v, key, button, reason, priceText, available: true, reasonText: '', description: v.description || '' };
      button.addEventListener('click', () => activate(item));
      button.addEventListener('keydown', (e) => roving(e, items, item));
      const hoverInfo = () => showInfo(item);
      button.addEventListener('mouseenter', hoverInfo);
      button.addEventListener('focus', hoverInfo);
      button.addEventListener('mouseleave', () => showInfo(null));
      button.addEventListener('blur', () => showInfo(null));
      items.push(item);
      group.append(el('span', { class: 'value-wrap' }, button, reason));
    }
    shell.root.append(group, info, notice, shell.note, shell.error);
    let option = o;

    function showInfo(item) {
      const focused = items.find((i) => i.button === document.activeElement);
      const target = item || focused;
      if (!target) {
        setText(info, '');
        info.classList.remove('value-info--warn');
        updateCurrent();
        return;
      }
      const bits = [];
      if (kind === 'swatch' || target.description) {
        const price = kind === 'swatch' && target.priceText.textContent ? ` (${target.priceText.textContent})` : '';
        bits.push(target.v.label + price + (target.description ? ` — ${target.description}` : ''));
      }
      if (!target.available) bits.push(target.reasonText);
      setText(info, bits.join(' · '));
      info.classList.toggle('value-info--warn', !target.available);
      if (kind === 'swatch') setText(shell.current, target.v.label);
    }

    function activate(item) {
      if (item.available) {
        notice.hidden = true;
        choose(o.id, item.v.none ? null : item.v.value);
        return;
      }
      // A value the rules exclude: say why, and let the shopper take it anyway (the answer
      // is then a conflict with its repair).
      notice.replaceChildren(
        el('p', { text: `${t('unavailableNotice', { value: item.v.label })} ${item.reasonText}` }),
        el('button', {
          type: 'button', class: 'button button--small', 'data-choose-anyway': item.key,
          text: t('chooseAnyway', { value: item.v.label }),
          onclick: () => {
            notice.hidden = true;
            S.focusAfter = () => (ui.conflict.querySelector('button') || item.button).focus();
            choose(o.id, item.v.none ? null : item.v.value);
          },
        }));
      notice.hidden = false;
      notice.querySelector('button').focus();
      if (item.deferred) {
        // Its reason was not worked out within the answer's time: ask for it now.
        const seq = S.seq;
        explainDeferred(o.id, item.v.none ? null : item.v.value).then((reason) => {
          if (!reason || seq !== S.seq) return;
          item.deferred = false;
          item.reasonText = reasonText(reason);
          setText(item.reason, item.reasonText);
          const text = notice.querySelector('p');
          if (text) setText(text, `${t('unavailableNotice', { value: item.v.label })} ${item.reasonText}`);
        });
      }
    }

    function updateCurrent() {
      const selected = option.selected;
      const sel = items.find((i) => !i.v.none && i.v.value === selected);
      if (sel) setText(shell.current, sel.v.label);
      else if (!option.required && (selected === null || selected === undefined)) setText(shell.current, T.none);
      else setText(shell.current, '');
    }

    return {
      root: shell.root,
      focus() {
        (items.find((i) => i.button.tabIndex === 0) || items[0]).button.focus();
      },
      error(text) {
        setText(shell.error, text);
      },
      update(next, suggestion) {
        option = next;
        setText(shell.error, '');
        setText(shell.price, '');
        const values = new Map(next.values.map((v) => [String(v.value), v]));
        let tabStop = null;
        for (const item of items) {
          let available = true;
          let reason = null;
          let deferred = false;
          let price = null;
          if (item.v.none) {
            const unset = next.unset || { available: true };
            available = unset.available !== false;
            reason = unset.reason;
            deferred = unset.reason_deferred === true;
            item.checked = next.selected === null || next.selected === undefined;
          } else {
            const v = values.get(item.key) || item.v;
            available = v.available !== false;
            reason = v.reason;
            deferred = v.reason_deferred === true;
            price = v.price;
            item.checked = next.selected === v.value;
          }
          item.available = available;
          item.deferred = !available && deferred;
          item.reasonText = available ? '' : reasonText(reason);
          setText(item.reason, item.reasonText);
          item.button.setAttribute('aria-checked', String(item.checked));
          if (available) item.button.removeAttribute('aria-disabled');
          else item.button.setAttribute('aria-disabled', 'true');
          if (available) item.button.removeAttribute('aria-describedby');
          else item.button.setAttribute('aria-describedby', item.reason.id);
          const suggested = !item.checked && !item.v.none && suggestion !== undefined && suggestion === item.v.value && (next.selected === null || next.selected === undefined);
          item.button.classList.toggle('is-suggested', suggested);
          setText(item.priceText, price && Number(price) !== 0 ? t('surcharge', { price: money(price, S.schema.currency) }) : '');
          if (item.checked) tabStop = item;
        }
        tabStop = tabStop || items.find((i) => i.available) || items[0];
        for (const item of items) item.button.tabIndex = item === tabStop ? 0 : -1;
        updateCurrent();
        const hasSelection = next.selected !== null && next.selected !== undefined;
        if (!hasSelection && suggestion !== undefined && suggestion !== null) {
          const s = items.find((i) => !i.v.none && i.v.value === suggestion);
          if (s && next.required) setText(shell.current, t('suggested', { value: s.v.label }));
        }
        const focused = items.find((i) => i.button === document.activeElement);
        if (focused) showInfo(focused);
      },
    };
  }

  /** Arrow keys move the focus within a group of values (Space or Enter chooses). */
  function roving(e, items, item) {
    const i = items.indexOf(item);
    let j = -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') j = (i + 1) % items.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') j = (i - 1 + items.length) % items.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = items.length - 1;
    if (j < 0) return;
    e.preventDefault();
    for (const it of items) it.button.tabIndex = -1;
    items[j].button.tabIndex = 0;
    items[j].button.focus();
  }

  /** A long list of choices: a native select; excluded values stay listed with their reasons. */
  function selectView(o) {
    const id = `in-${o.id}`;
    const shell = optionShell(o, id);
    const select = el('select', { id, class: 'select', 'aria-describedby': shell.describedBy });
    const none = el('option', { value: '', text: o.required ? T.notChosen : T.none });
    select.append(none);
    const byKey = new Map();
    for (const v of o.values) {
      const opt = el('option', { value: String(v.value), text: v.label });
      byKey.set(String(v.value), { v, opt });
      select.append(opt);
    }
    select.addEventListener('change', () => {
      const item = byKey.get(select.value);
      choose(o.id, item ? item.v.value : null);
    });
    shell.root.append(select, shell.note, shell.error);
    return {
      root: shell.root,
      focus: () => select.focus(),
      error: (text) => setText(shell.error, text),
      update(next) {
        setText(shell.error, '');
        setText(shell.price, '');
        const reasons = [];
        for (const v of next.values) {
          const item = byKey.get(String(v.value));
          if (!item) continue;
          const price = v.price && Number(v.price) !== 0 ? ` (${t('surcharge', { price: money(v.price, S.schema.currency) })})` : '';
          item.opt.textContent = v.label + price + (v.available ? '' : ` — ${T.unavailable}`);
          if (!v.available) reasons.push(`${v.label}: ${reasonText(v.reason)}`);
        }
        select.value = next.selected === null || next.selected === undefined ? '' : String(next.selected);
        setText(shell.note, reasons.join(' '));
      },
    };
  }

  /** Booleans: a switch. When its other value is excluded it is disabled, with the reason. */
  function booleanView(o) {
    const shell = optionShell(o, null);
    const reason = el('span', { id: `why-${o.id}`, class: 'visually-hidden' });
    const button = el('button', {
      type: 'button', role: 'switch', class: 'switch', id: `in-${o.id}`, 'aria-checked': 'false',
      'aria-labelledby': shell.ids.label, 'aria-describedby': `${shell.describedBy} why-${o.id}`,
    }, el('span', { class: 'switch-track', 'aria-hidden': 'true' }, el('span', { class: 'switch-knob' })),
    el('span', { class: 'switch-state', 'aria-hidden': 'true' }));
    const info = el('p', { class: 'value-info value-info--warn', 'aria-hidden': 'true', hidden: true });
    const notice = el('div', { class: 'value-notice', hidden: true });
    let state = { effective: false, target: null, available: true, why: '' };
    button.addEventListener('click', () => {
      if (!state.target) return;
      if (state.available) {
        choose(o.id, state.target.value);
        return;
      }
      notice.replaceChildren(
        el('p', { text: `${t('unavailableNotice', { value: `${o.label}: ${state.target.label}` })} ${state.why}` }),
        el('button', {
          type: 'button', class: 'button button--small', 'data-choose-anyway': String(state.target.value),
          text: t('chooseAnyway', { value: `${o.label}: ${state.target.label}` }),
          onclick: () => {
            notice.hidden = true;
            S.focusAfter = () => (ui.conflict.querySelector('button') || button).focus();
            choose(o.id, state.target.value);
          },
        }));
      notice.hidden = false;
      notice.querySelector('button').focus();
    });
    const showWhy = (on) => { info.hidden = !on || state.available; };
    button.addEventListener('mouseenter', () => showWhy(true));
    button.addEventListener('focus', () => showWhy(true));
    button.addEventListener('mouseleave', () => showWhy(button === document.activeElement));
    button.addEventListener('blur', () => showWhy(false));
    shell.root.querySelector('.option-head').append(button);
    shell.root.append(reason, info, notice, shell.note, shell.error);
    return {
      root: shell.root,
      focus: () => button.focus(),
      error: (text) => setText(shell.error, text),
      update(next, suggestion) {
        setText(shell.error, '');
        setText(shell.price, optionPrice(next));
        const set = next.selected !== null && next.selected !== undefined;
        const effective = set ? next.selected : suggestion !== undefined ? suggestion : next.default === true;
        const target = next.values.find((v) => v.value === !effective) || null;
        state = { effective, target, available: !target || target.available !== false, why: '' };
        state.why = state.available ? '' : reasonText(target.reason);
        button.setAttribute('aria-checked', String(effective === true));
        const current = next.values.find((v) => v.value === effective);
        setText(button.querySelector('.switch-state'), current ? current.label : '');
        if (state.available) button.removeAttribute('aria-disabled');
        else button.setAttribute('aria-disabled', 'true');
        setText(reason, state.why);
        setText(info, state.why);
        showWhy(button === document.activeElement || button.matches(':hover'));
      },
    };
  }

  function unitText(n, unit) {
    return unit ? `${number(n)} ${unit}` : number(n);
  }

  /** Integers and the quantity: a number input with the feasible range and ± steps. */
  function numberView(o) {
    const id = `in-${o.id}`;
    const shell = optionShell(o, id);
    const hintId = `hint-${o.id}`;
    const input = el('input', {
      id, type: 'number', class: 'number-input', inputmode: 'numeric', autocomplete: 'off',
      'aria-describedby': `${hintId} ${shell.describedBy}`,
    });
    const less = el('button', { type: 'button', class: 'step', 'aria-controls': id, 'aria-label': t('decrease', { option: o.label }), text: '−' });
    const more = el('button', { type: 'button', class: 'step', 'aria-controls': id, 'aria-label': t('increase', { option: o.label }), text: '+' });
    const unit = o.range && o.range.unit ? el('span', { class: 'unit', 'aria-hidden': 'true', text: o.range.unit }) : null;
    const hint = el('p', { id: hintId, class: 'hint' });
    shell.root.append(el('div', { class: 'number' }, less, input, more, unit), hint, shell.note, shell.error);
    let option = o;
    let suggested;
    let timer = 0;

    function declared() {
      const r = option.range || {};
      return { min: r.declared_min, max: r.declared_max, step: r.step || 1 };
    }

    function commit() {
      clearTimeout(timer);
      timer = 0;
      const text = input.value.trim();
      if (text === '') {
        input.removeAttribute('aria-invalid');
        setText(shell.error, '');
        if (chosen(o.id) !== undefined) choose(o.id, null);
        return;
      }
      const d = declared();
      const n = Number(text);
      if (!Number.isInteger(n) || (d.min !== null && n < d.min) || (d.max !== null && n > d.max)) {
        input.setAttribute('aria-invalid', 'true');
        setText(shell.error, t('numberInvalid', { min: number(d.min), max: number(d.max) }));
        return;
      }
      if (d.min !== null && (n - d.min) % d.step !== 0) {
        input.setAttribute('aria-invalid', 'true');
        const example = d.min + Math.round((n - d.min) / d.step) * d.step;
        setText(shell.error, t('numberStep', { step: number(d.step), example: number(Math.min(example, d.max)) }));
        return;
      }
      input.removeAttribute('aria-invalid');
      setText(shell.error, '');
      if (chosen(o.id) !== n) choose(o.id, n);
    }

    function step(dir) {
      const r = option.range || {};
      const d = declared();
      const base = input.value.trim() !== '' && Number.isInteger(Number(input.value)) ? Number(input.value) : suggested !== undefined && suggested !== null ? suggested : r.min;
      let n = base + dir * d.step;
      const lo = r.min !== null && r.min !== undefined ? r.min : d.min;
      const hi = r.max !== null && r.max !== undefined ? r.max : d.max;
      n = Math.max(lo, Math.min(hi, n));
      input.value = String(n);
      clearTimeout(timer);
      timer = setTimeout(commit, 350);
    }

    less.addEventListener('click', () => step(-1));
    more.addEventListener('click', () => step(1));
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(commit, 700);
    });
    input.addEventListener('change', commit);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        commit();
      }
    });

    return {
      root: shell.root,
      focus: () => input.focus(),
      error(text) {
        input.setAttribute('aria-invalid', 'true');
        setText(shell.error, text);
      },
      update(next, suggestion) {
        option = next;
        suggested = suggestion;
        setText(shell.price, optionPrice(next));
        const r = next.range || {};
        const u = r.unit || '';
        if (r.min !== null && r.min !== undefined) {
          input.min = String(r.min);
          input.max = String(r.max);
        }
        input.step = String(r.step || 1);
        const selected = next.selected === null || next.selected === undefined ? '' : String(next.selected);
        if (document.activeElement !== input && !timer) input.value = selected;
        if (document.activeElement !== input && input.value === selected) {
          input.removeAttribute('aria-invalid');
          setText(shell.error, '');
        }
        input.placeholder = suggestion !== undefined && suggestion !== null ? String(suggestion) : '';
        setText(shell.current, selected === '' && suggestion !== undefined && suggestion !== null && next.required
          ? t('suggested', { value: unitText(suggestion, u) }) : '');
        let text;
        if (r.min === null || r.min === undefined) text = T.rangeNone;
        else if (r.values) text = t('rangeValuesHint', { values: listText(r.values.map((v) => unitText(v, u))) });
        else if ((r.step || 1) !== 1) text = t('rangeStepHint', { min: unitText(r.min, u), max: unitText(r.max, u), step: unitText(r.step, u) });
        else text = t('rangeHint', { min: unitText(r.min, u), max: unitText(r.max, u) });
        setText(hint, text);
        const notes = (r.excluded || []).map((x) => {
          const reason = reasonText(x.reason);
          if (r.max !== null && x.value > r.max) return t('excludedAbove', { value: unitText(r.max, u), reason });
          if (r.min !== null && x.value < r.min) return t('excludedBelow', { value: unitText(r.min, u), reason });
          return t('excludedValue', { value: unitText(x.value, u), reason });
        });
        setText(shell.note, notes.join(' '));
      },
    };
  }

  /** The characters a charset (a character-class body such as `A-Za-z0-9 !?.-`) allows, in words. */
  function charsetWords(charset) {
    const words = [];
    const others = [];
    for (let i = 0; i < charset.length; i++) {
      const c = charset[i];
      if (c === '\\' && i + 1 < charset.length) {
        others.push(charset[++i]);
      } else if (charset[i + 1] === '-' && i + 2 < charset.length) {
        const to = charset[i + 2];
        if (c === 'A' && to === 'Z') words.push(`${T.charsetUpper} A–Z`);
        else if (c === 'a' && to === 'z') words.push(`${T.charsetLower} a–z`);
        else if (c === '0' && to === '9') words.push(`${T.charsetDigits} 0–9`);
        else words.push(t('charsetRange', { from: c, to }));
        i += 2;
      } else if (c === ' ') {
        words.push(T.charsetSpace);
      } else {
        others.push(c);
      }
    }
    if (others.length) words.push(others.join(' '));
    return listText(words);
  }

  function charsetRegex(charset) {
    try {
      return new RegExp(`[^${charset}]`, 'g');
    } catch (e) {
      return null;
    }
  }

  /** Text: an input with its length limits, allowed characters and a live count. */
  function textView(o) {
    const id = `in-${o.id}`;
    const shell = optionShell(o, id);
    const hintId = `hint-${o.id}`;
    const spec = o.text || {};
    const input = el('input', {
      id, type: 'text', class: 'text-input', autocomplete: 'off', spellcheck: 'false',
      maxlength: spec.max_length || null, 'aria-describedby': `${hintId} ${shell.describedBy}`,
    });
    const count = el('span', { class: 'count', 'aria-hidden': 'true' });
    const hint = el('p', { id: hintId, class: 'hint' });
    shell.root.append(el('div', { class: 'text' }, input, count), hint, shell.note, shell.error);
    const bad = spec.charset ? charsetRegex(spec.charset) : null;
    let pattern = null;
    if (spec.pattern) {
      try {
        pattern = new RegExp(`^(?:${spec.pattern})$`);
      } catch (e) {
        pattern = null;
      }
    }
    let timer = 0;

    function problem(value) {
      if (value === '') return '';
      const len = Array.from(value).length;
      if (bad) {
        const found = Array.from(new Set(value.match(bad) || []));
        if (found.length) return t('textBadChars', { chars: found.join(' ') });
      }
      if (spec.max_length !== null && spec.max_length !== undefined && len > spec.max_length) return t('textTooLong', { max: spec.max_length });
      if (spec.min_length && len < spec.min_length) return t('textTooShort', { min: spec.min_length });
      if (pattern && !pattern.test(value)) return T.textPattern;
      return '';
    }

    function commit() {
      clearTimeout(timer);
      timer = 0;
      const value = input.value;
      const why = problem(value);
      if (why) {
        input.setAttribute('aria-invalid', 'true');
        setText(shell.error, why);
        return;
      }
      input.removeAttribute('aria-invalid');
      setText(shell.error, '');
      const next = value === '' ? undefined : value;
      if (chosen(o.id) !== next) choose(o.id, next === undefined ? null : value);
    }

    function counter() {
      const len = Array.from(input.value).length;
      setText(count, spec.max_length ? t('textCount', { count: len, max: spec.max_length }) : String(len));
    }

    input.addEventListener('input', () => {
      counter();
      const why = problem(input.value);
      // Say what is wrong at once, but wait for a pause in typing before asking the server.
      if (why) {
        input.setAttribute('aria-invalid', 'true');
        setText(shell.error, why);
      } else {
        input.removeAttribute('aria-invalid');
        setText(shell.error, '');
      }
      clearTimeout(timer);
      timer = setTimeout(commit, 600);
    });
    input.addEventListener('change', commit);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        commit();
      }
    });

    return {
      root: shell.root,
      focus: () => input.focus(),
      error(text) {
        input.setAttribute('aria-invalid', 'true');
        setText(shell.error, text);
      },
      update(next) {
        setText(shell.price, optionPrice(next));
        const selected = next.selected === null || next.selected === undefined ? '' : String(next.selected);
        if (document.activeElement !== input && !timer && input.value !== selected) {
          input.value = selected;
          input.removeAttribute('aria-invalid');
          setText(shell.error, '');
        }
        counter();
        const s = next.text || spec;
        const parts = [s.min_length ? t('textLengthRange', { min: s.min_length, max: s.max_length }) : t('textLength', { max: s.max_length })];
        if (s.charset) parts.push(t('textAllowed', { chars: charsetWords(s.charset) }));
        setText(hint, parts.join('. '));
        const r = next.range;
        const notes = [];
        if (r && r.max !== null && s.max_length && r.max < s.max_length) notes.push(t('textFeasible', { max: r.max }));
        for (const x of (r && r.excluded) || []) notes.push(reasonText(x.reason));
        if (next.unset && next.unset.available === false) notes.push(reasonText(next.unset.reason));
        setText(shell.note, notes.join(' '));
      },
    };
  }

  /** Uploads: send the image (POST /v1/uploads) and use the id it answers as the value. */
  function uploadView(o) {
    const id = `in-${o.id}`;
    const shell = optionShell(o, null);
    const file = el('input', { id, type: 'file', class: 'visually-hidden', tabindex: '-1', 'aria-hidden': 'true', accept: 'image/png,image/jpeg,image/webp' });
    const pick = el('button', { type: 'button', class: 'button', 'aria-describedby': `hint-${o.id} ${shell.describedBy}`, text: T.uploadChoose });
    const remove = el('button', { type: 'button', class: 'link', hidden: true, text: T.uploadRemove });
    const thumb = el('img', { class: 'upload-thumb', alt: T.uploadPreviewAlt, hidden: true });
    const status = el('p', { class: 'hint', role: 'status' });
    const hint = el('p', { id: `hint-${o.id}`, class: 'hint', text: T.uploadHint });
    shell.root.append(el('div', { class: 'upload' }, file, thumb, pick, remove), hint, status, shell.note, shell.error);
    let available = true;
    let local = null;

    pick.addEventListener('click', () => {
      if (available) file.click();
    });
    remove.addEventListener('click', () => {
      if (local) URL.revokeObjectURL(local);
      local = null;
      thumb.hidden = true;
      setText(status, '');
      choose(o.id, null);
      pick.focus();
    });
    file.addEventListener('change', async () => {
      const f = file.files && file.files[0];
      file.value = '';
      if (!f) return;
      setText(shell.error, '');
      setText(status, T.uploading);
      const res = await api('POST', '/v1/uploads', { body: f, headers: { 'Content-Type': f.type || 'application/octet-stream' } });
      if (!res.ok) {
        setText(status, '');
        setText(shell.error, t('uploadFailed', { detail: problemText(res) }));
        return;
      }
      if (local) URL.revokeObjectURL(local);
      local = URL.createObjectURL(f);
      thumb.src = local;
      thumb.hidden = false;
      setText(status, T.uploadDone);
      choose(o.id, res.data.id);
    });

    return {
      root: shell.root,
      focus: () => pick.focus(),
      error: (text) => setText(shell.error, text),
      update(next) {
        const set = next.selected !== null && next.selected !== undefined;
        available = !next.upload || next.upload.available !== false;
        if (available) pick.removeAttribute('aria-disabled');
        else pick.setAttribute('aria-disabled', 'true');
        setText(pick, set ? T.uploadReplace : T.uploadChoose);
        remove.hidden = !set;
        if (!set && local) {
          URL.revokeObjectURL(local);
          local = null;
        }
        // Without the file at hand (a design opened from its link) the preview shows the image.
        thumb.hidden = !set || !local;
        const notes = [];
        if (!available) notes.push(reasonText(next.upload.reason));
        if (next.unset && next.unset.available === false) notes.push(reasonText(next.unset.reason));
        setText(shell.note, notes.join(' '));
      },
    };
  }

  // ----- conflict, price, actions, preview

  function renderConflict(a) {
    const c = ui.conflict;
    if (a.consistent || !a.conflict) {
      c.hidden = true;
      c.replaceChildren();
      return;
    }
    const messages = a.conflict.rules.map((r) => r.message).filter(Boolean);
    const children = [
      el('h2', { class: 'conflict-title', text: T.conflictTitle }),
      messages.length ? el('p', { text: messages.join(' ') }) : null,
    ];
    if (a.repair) {
      const dropped = a.repair.drop.filter((d) => !a.repair.replace.some((r) => r.option === d));
      const changes = a.repair.replace.map((r) => t('repairChange', { option: optionLabel(r.option), value: r.label || String(r.value) }))
        .concat(dropped.map((d) => t('repairRemove', { option: optionLabel(d) })));
      const question = capitalise(t('repairQuestion', { changes: listText(changes) }));
      const selection = Object.entries(a.repair.selection);
      children.push(el('div', { class: 'conflict-actions' },
        el('button', {
          type: 'button', id: 'apply-repair', class: 'button button--primary', text: question,
          onclick: () => {
            const changed = (a.repair.replace[0] || {}).option || a.repair.drop[0];
            S.focusAfter = () => {
              const view = S.views.get(changed);
              if (view) view.focus();
            };
            setChoices(selection);
          },
        }),
        S.undo ? el('button', {
          type: 'button', id: 'undo', class: 'button', text: T.undoLast,
          onclick: () => setChoices(S.undo || []),
        }) : null));
    }
    c.replaceChildren(...children);
    c.hidden = false;
  }

  function quoteRows(quote, body, foot) {
    body.replaceChildren(...quote.lines.map((l) => el('tr', { 'data-source': l.source },
      el('th', { scope: 'row' }, l.label, l.unit_amount && quote.quantity > 1
        ? el('span', { class: 'line-unit', text: ` (${t('priceEach', { quantity: number(quote.quantity), unit: money(l.unit_amount, quote.currency) })})` }) : null),
      el('td', { text: money(l.amount, quote.currency) }))));
    foot.replaceChildren(el('tr', {}, el('th', { scope: 'row', text: T.priceTotal }), el('td', { text: money(quote.total, quote.currency) })));
  }

  function renderPrice(a) {
    const p = a.price;
    ui.price.dataset.kind = p ? p.kind : 'none';
    ui.breakdown.hidden = true;
    if (!p) {
      setText(ui.price, '—');
      setText(ui.priceNote, T.priceConflict);
    } else if (p.kind === 'quote') {
      setText(ui.price, money(p.total, p.currency));
      setText(ui.priceNote, p.quantity > 1 ? t('priceEach', { quantity: number(p.quantity), unit: money(p.unit, p.currency) }) : '');
      quoteRows(p, ui.breakdownBody, ui.breakdownFoot);
      ui.breakdown.hidden = false;
    } else if (p.kind === 'range') {
      setText(ui.price, p.min === p.max ? money(p.min, p.currency) : t('priceFromTo', { min: money(p.min, p.currency), max: money(p.max, p.currency) }));
      setText(ui.priceNote, p.min === p.max ? '' : T.priceRangeNote);
    } else {
      setText(ui.price, T.priceUnknown);
      setText(ui.priceNote, T.priceUnknownNote);
    }
  }

  function renderActions(a) {
    const c = a.completion;
    const needs = (c && c.needs_input) || [];
    const missing = (a.validation && a.validation.missing) || [];
    const open = missing.filter((m) => !needs.includes(m));
    setText(ui.open, a.consistent && open.length ? t('openOptions', { options: listText(open.map(optionLabel)) }) : '');
    ui.complete.hidden = !(a.consistent && c && c.filled.length);
    let blocked = '';
    if (!a.consistent) blocked = T.addBlockedConflict;
    else if (needs.length) blocked = t('needsInput', { options: listText(needs.map(optionLabel)) });
    ui.add.setAttribute('aria-disabled', blocked ? 'true' : 'false');
    ui.add.dataset.blocked = blocked;
    setText(ui.addHint, blocked);
  }

  function complete() {
    const c = S.answer && S.answer.completion;
    if (!c) return;
    // Keep the shopper's choices first (in their order), then what the completion adds.
    const given = new Set(S.choices.map(([k]) => k));
    const added = Object.entries(c.selection).filter(([k]) => !given.has(k));
    const kept = S.choices.filter(([k]) => Object.prototype.hasOwnProperty.call(c.selection, k)).map(([k]) => [k, c.selection[k]]);
    setChoices(added.concat(kept));
  }

  let previewTimer = 0;
  let previewWanted = '';
  /** Loads the next preview off the page and swaps it in once decoded (no flicker). */
  function schedulePreview(url) {
    const full = API + url;
    previewWanted = full;
    clearTimeout(previewTimer);
    if (ui.preview.getAttribute('src') === full) {
      ui.figure.dataset.state = 'ready';
      return;
    }
    ui.figure.dataset.state = 'loading';
    previewTimer = setTimeout(() => {
      const next = new Image();
      next.src = full;
      const swap = () => {
        if (previewWanted !== full) return;
        ui.preview.src = full;
        ui.preview.width = next.naturalWidth;
        ui.preview.height = next.naturalHeight;
        ui.figure.dataset.state = 'ready';
        setText(ui.previewStatus, '');
      };
      const failed = () => {
        if (previewWanted !== full) return;
        ui.figure.dataset.state = 'failed';
        setText(ui.previewStatus, T.previewFailed);
      };
      (next.decode ? next.decode() : new Promise((ok, ko) => { next.onload = ok; next.onerror = ko; })).then(swap, failed);
    }, 150);
  }

  // ----- cart and order

  async function addToCart() {
    if (ui.add.getAttribute('aria-disabled') === 'true') {
      setText(ui.addHint, ui.add.dataset.blocked || '');
      ui.addHint.classList.add('hint--flash');
      setTimeout(() => ui.addHint.classList.remove('hint--flash'), 600);
      return;
    }
    if (ui.add.dataset.busy) return;
    ui.add.dataset.busy = '1';
    setText(ui.add, T.saving);
    const body = '{"product":' + JSON.stringify(S.product) + ',"selection":' + selectionJson(S.choices) +
      ',"version":' + JSON.stringify(S.answer.version) + '}';
    const res = await api('POST', '/v1/designs', { body });
    delete ui.add.dataset.busy;
    setText(ui.add, T.addToCart);
    if (!res.ok) {
      setText(ui.addHint, problemText(res));
      return;
    }
    S.design = res.data;
    S.order = null;
    S.orderKey = null;
    try {
      history.replaceState(null, '', BASE + res.data.share_url);
    } catch (e) {
      // A page served from elsewhere may not rewrite its address: the share link still works.
    }
    renderCart();
    const title = document.getElementById('cart-title');
    if (title) title.focus();
  }

  function renderCart() {
    const d = S.design;
    if (!d) {
      ui.cart.hidden = true;
      return;
    }
    const shareUrl = new URL(BASE + d.share_url, location.href).href;
    const body = el('tbody');
    const foot = el('tfoot');
    quoteRows(d.quote, body, foot);
    const link = el('a', { href: shareUrl, class: 'share-link', text: shareUrl });
    const copied = el('span', { class: 'hint', role: 'status' });
    ui.orderArea = el('div', { class: 'order-area' });
    ui.cart.replaceChildren(
      el('h2', { id: 'cart-title', tabindex: '-1', text: T.cartTitle }),
      el('div', { class: 'cart-line' },
        el('img', { class: 'cart-img', src: API + d.preview_url, alt: t('previewAlt', { product: S.schema.name }) }),
        el('div', { class: 'cart-info' },
          el('p', { class: 'cart-name', text: S.schema.name }),
          el('p', {}, el('span', { class: 'muted', text: `${T.designNumber} ` }), el('code', { id: 'design-id', text: d.id })),
          el('p', { id: 'design-total', class: 'cart-total', text: money(d.quote.total, d.quote.currency) }),
          el('p', { class: 'muted', text: t('designKept', { date: date(d.expires_at) }) }))),
      el('details', { class: 'breakdown' }, el('summary', { text: T.priceDetails }), el('table', {}, body, foot)),
      el('p', { class: 'share' }, el('span', { class: 'muted', text: `${T.shareLink}: ` }), link, ' ',
        navigator.clipboard ? el('button', {
          type: 'button', class: 'link', text: T.copyLink,
          onclick: () => navigator.clipboard.writeText(shareUrl).then(() => setText(copied, T.linkCopied), () => {}),
        }) : null, copied),
      ui.orderArea);
    ui.cart.hidden = false;
    renderOrderArea();
  }

  function renderOrderArea(failure) {
    const o = S.order;
    if (o) {
      const status = T[`status_${o.status}`] || o.status;
      ui.orderArea.replaceChildren(el('div', { id: 'order', class: 'order', role: 'status', tabindex: '-1' },
        el('h3', { text: T.orderTitle }),
        el('dl', {},
          el('dt', { text: T.orderNumber }), el('dd', {}, el('code', { id: 'order-id', text: o.id })),
          el('dt', { text: T.orderStatus }), el('dd', { id: 'order-status', 'data-status': o.status, text: status }),
          el('dt', { text: T.orderTotal }), el('dd', { id: 'order-total', text: money(o.quote.total, o.quote.currency) }))));
      return;
    }
    const button = el('button', { id: 'place-order', type: 'button', class: 'button button--primary', text: failure ? T.retry : T.placeOrder, onclick: placeOrder });
    ui.orderArea.replaceChildren(button,
      failure ? el('p', { class: 'option-error', role: 'alert', text: failure }) : null,
      failure && S.orderKey ? el('p', { class: 'hint', text: T.orderRetryNote }) : null);
  }

  async function placeOrder(event) {
    const button = event && event.currentTarget;
    if (button && button.dataset.busy) return;
    if (button) {
      button.dataset.busy = '1';
      setText(button, T.ordering);
    }
    // One key per attempt, kept until the server answers: a retry cannot order twice.
    if (!S.orderKey) S.orderKey = newKey();
    const send = () => api('POST', '/v1/orders', { body: JSON.stringify({ design: S.design.id }), headers: { 'Idempotency-Key': S.orderKey } });
    let res = await send();
    if (res.network) {
      await new Promise((ok) => setTimeout(ok, 1000));
      res = await send();
    }
    if (res.ok) {
      S.order = res.data;
      S.orderKey = null;
      renderOrderArea();
      const done = document.getElementById('order');
      if (done) done.focus();
      return;
    }
    // Only an answer that may not have reached the server keeps the key for the retry.
    if (!(res.network || res.status >= 500)) S.orderKey = null;
    renderOrderArea(t('orderFailed', { detail: problemText(res) }));
    const retry = document.getElementById('place-order');
    if (retry) retry.focus();
  }

  // ---------------------------------------------------------------------------------------
  // Routing

  function start() {
    frame();
    const path = location.pathname.slice(BASE.length);
    const m = path.match(/^\/p\/([^/]+)\/?$/);
    if (m) {
      let id = m[1];
      try {
        id = decodeURIComponent(id);
      } catch (e) {
        // keep it as written
      }
      productPage(id, new URLSearchParams(location.search).get('design'));
    } else {
      productList();
    }
  }

  start();
})();

// The console page: a small client of the console's JSON endpoints (docs/ARCHITECTURE.md,
// "Console (web page)"). The session is an HttpOnly cookie this script cannot read; state changes
// carry the session's CSRF secret, held in a variable only. A SCIM token or an OAuth client secret
// is held only while the once-only dialog is open, and never written to storage, the URL or the
// history.
'use strict';

(function () {
  // Errors of this page, for the browser tests ("no JavaScript error on any screen").
  let pageErrors = 0;
  const countError = () => {
    pageErrors += 1;
    document.documentElement.dataset.jsErrors = String(pageErrors);
  };
  window.addEventListener('error', countError);
  window.addEventListener('unhandledrejection', countError);

  const WINDOWS = [
    ['30d', '30 days'], ['90d', '90 days'], ['180d', '180 days'], ['1y', '1 year'], ['2y', '2 years'], ['none', 'No expiration'],
  ];
  const IDPS = { okta: 'Okta', azure: 'Microsoft Entra ID' };
  // Where the connector URL and the token go in each IdP's provisioning settings (as the set-up guide says).
  const IDP_FIELDS = {
    okta: { url: 'SCIM connector base URL', token: 'Authorization (HTTP Header)', userId: 'Unique identifier field for users: email' },
    azure: { url: 'Tenant URL', token: 'Secret Token', userId: null },
  };
  const ROLES = { owner: 'Owner', co_owner: 'Co-Owner', member: 'Member' };
  const REQUIREMENTS = {
    enterprise_plan: ['Enterprise plan', 'Upgrade the organization to the Enterprise plan (Billing → Plan).'],
    owner_or_co_owner: ['You are an Owner or Co-Owner', 'Ask an Owner of the organization to make you an Owner or Co-Owner.'],
    verified_domain: ['A verified domain', 'Add and verify a domain your members use: in the Insomnia web app, Enterprise Controls → Domains.', 'https://app.insomnia.rest/app/enterprise/domains/list'],
    sso_configured: ['SSO configured', 'Configure SSO with Okta or Microsoft Entra ID: in the Insomnia web app, Enterprise Controls → SSO.', 'https://app.insomnia.rest/app/enterprise/sso/list'],
    idp_confirmed: ['Identity provider confirmed', 'Confirm below which identity provider SSO uses.'],
  };
  const TOKEN_STATES = {
    valid: ['Valid', 'pill-ok'], expiring_soon: ['Expiring soon', 'pill-warn'], expired: ['Expired', 'pill-bad'],
    no_expiry: ['Valid (no expiration)', 'pill-ok'], none: ['No token', ''],
  };
  const ACTIONS = {
    enabled: 'Enabled', token_refreshed: 'Token refreshed', token_auto_refreshed: 'Token extended automatically',
    disabled: 'Disabled', overlap_ended: 'Previous token stopped (overlap ended)',
    tokens_revoked: 'All tokens and OAuth grants revoked', oauth_client_created: 'OAuth client created',
    oauth_client_deleted: 'OAuth client deleted',
    oauth_family_revoked: 'OAuth grant revoked (a refresh token or code was used twice)',
    auto_refresh_off: 'Automatic refresh turned off', auto_refresh_on: 'Automatic refresh turned on',
    passphrase_refused: 'Wrong passphrase given (nothing changed)',
  };
  const ATTEMPTED = {
    enable: 'to enable SCIM', refresh: 'to refresh the token', revoke: 'to revoke the tokens',
    disable: 'to disable SCIM', oauth_client: 'to create the OAuth client',
    delete_oauth_client: 'to delete the OAuth client', auto_refresh: 'to change the automatic refresh',
  };
  // History entries that issue a token (their expiry column is meaningful).
  const TOKEN_ACTIONS = ['enabled', 'token_refreshed', 'token_auto_refreshed'];

  const state = { csrf: null, email: null, org: null, status: null, idp: null, recent: [], tab: 'overview' };
  // The SCIM token or OAuth client secret on display: set when the dialog opens, cleared when it
  // closes; `shownKind` says which ('token' or 'client').
  let shownToken = null;
  let shownKind = 'token';
  const cursors = { logs: null, history: null, members: null };

  const $ = (id) => document.getElementById(id);
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    Object.entries(props || {}).forEach(([key, value]) => {
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('data-') || key.startsWith('aria-')) node.setAttribute(key, value);
      else node[key] = value;
    });
    children.forEach((child) => node.append(child instanceof Node ? child : document.createTextNode(String(child))));
    return node;
  }
  // One format for every date on the page, always UTC: "7 Dec 2026, 10:04 UTC" and "7 Dec 2026".
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const day = (iso) => {
    if (!iso) return '—';
    const d = new Date(iso);
    return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  };
  const time = (iso) => new Date(iso).toISOString().slice(11, 16);
  const utc = (iso) => (iso ? `${day(iso)}, ${time(iso)} UTC` : '—');
  const when = utc;
  // A log row's time: to the second.
  const seconds = (iso) => (iso ? `${day(iso)}, ${new Date(iso).toISOString().slice(11, 19)}` : '—');
  // A path or query as the IdP meant it (percent-decoding undone; left as sent if it is not valid).
  const decoded = (text) => {
    try { return decodeURIComponent(text.replace(/\+/g, ' ')); } catch (err) { return text; }
  };
  const idpName = (idp) => IDPS[idp] || (idp === 'unknown' ? 'Other client' : idp);
  // A `datetime-local` value read as UTC (the table shows UTC), not as the browser's time zone.
  const utcInput = (value) => new Date(value.length === 16 ? `${value}:00Z` : `${value}Z`).toISOString();
  // The origin the status speaks of (the connector URL's), for the OAuth endpoints.
  const originOf = (status) => status.connectorUrl.split('/scim/v2/')[0];
  const windowLabel = (w) => (WINDOWS.find(([v]) => v === w) || [w, w || '—'])[1];

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ Accept: 'application/json' }, extraHeaders || {});
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    let response;
    try {
      response = await fetch(path, {
        method, headers, credentials: 'same-origin', cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      return { status: 0, data: { message: 'The service cannot be reached; check your connection and try again.' } };
    }
    const text = await response.text();
    let data = {};
    if (text) {
      try { data = JSON.parse(text); } catch (err) { data = { message: text }; }
    }
    return { status: response.status, data, retryAfter: response.headers.get('Retry-After') };
  }

  function message(result) {
    if (result.status === 429) {
      const secs = Number(result.retryAfter || 0);
      const wait = secs >= 120 ? `${Math.ceil(secs / 60)} minutes` : `${secs} seconds`;
      return `Too many failed attempts. Wait ${wait} before you try again.`;
    }
    return (result.data && result.data.message) || `The request failed (${result.status}).`;
  }

  // A session that ended (signed out elsewhere, expired) sends the page back to sign-in.
  function sessionEnded(result) {
    if (result.status !== 401 || result.data.error !== 'unauthenticated') return false;
    state.csrf = null;
    showSignIn('Your session ended; sign in again.');
    return true;
  }

  function flash(text) { $('flash').textContent = text || ''; }

  function show(screen) {
    document.querySelectorAll('.screen').forEach((s) => { s.hidden = s.id !== `screen-${screen}`; });
    const heading = document.querySelector(`#screen-${screen} h1`);
    if (heading) heading.focus();
    const signedIn = state.csrf !== null;
    $('sign-out').hidden = !signedIn;
    $('who').textContent = signedIn ? state.email : '';
  }

  function fillWindows() {
    document.querySelectorAll('.window-select').forEach((select) => {
      WINDOWS.forEach(([value, label]) => select.append(el('option', { value, text: label })));
    });
    $('enable-window').value = '90d';
  }

  // ---- Sign-in, passphrase change and reset, sign-out ----
  function showSignIn(note) {
    state.csrf = null;
    state.email = null;
    flash(note || '');
    $('sign-in-error').textContent = '';
    $('sign-in-passphrase').value = '';
    show('sign-in');
  }

  function signedIn(data) {
    state.csrf = data.csrfToken;
    state.email = data.email;
    if (data.mustChangePassphrase) {
      flash('');
      show('change');
      $('change-current').focus();
      return;
    }
    route();
  }

  async function onSignIn(event) {
    event.preventDefault();
    const email = $('sign-in-email').value.trim();
    const passphrase = $('sign-in-passphrase').value;
    if (!email || !passphrase) {
      $('sign-in-error').textContent = 'Enter your email and your passphrase.';
      return;
    }
    $('sign-in-submit').disabled = true;
    const result = await api('POST', '/auth/sessions', { email, passphrase }, { 'X-Session-Cookie': '1' });
    $('sign-in-submit').disabled = false;
    $('sign-in-passphrase').value = '';
    if (result.status === 201) {
      $('sign-in-error').textContent = '';
      flash('');
      signedIn(result.data);
    } else {
      $('sign-in-error').textContent = result.status === 401
        ? 'The email or passphrase is incorrect.' : message(result);
      $('sign-in-passphrase').focus();
    }
  }

  async function onChange(event) {
    event.preventDefault();
    const current = $('change-current').value;
    const next = $('change-new').value;
    if (next !== $('change-repeat').value) {
      $('change-error').textContent = 'The two new passphrases differ.';
      return;
    }
    const result = await api('POST', '/auth/passphrase', { currentPassphrase: current, newPassphrase: next });
    if (sessionEnded(result)) return;
    if (result.status === 200) {
      ['change-current', 'change-new', 'change-repeat'].forEach((id) => { $(id).value = ''; });
      $('change-error').textContent = '';
      flash('Passphrase changed.');
      route();
    } else {
      $('change-error').textContent = message(result);
    }
  }

  async function onResetRequest(event) {
    event.preventDefault();
    const email = $('reset-email').value.trim();
    const result = await api('POST', '/auth/passphrase-resets', { email });
    if (result.status === 202) {
      $('reset-request-error').textContent = '';
      $('reset-sent').textContent = `If an account uses ${email}, a code is on its way to it.`;
      $('reset-request-form').hidden = true;
      $('reset-confirm-form').hidden = false;
      $('reset-code').focus();
    } else {
      $('reset-request-error').textContent = message(result);
    }
  }

  async function onResetConfirm(event) {
    event.preventDefault();
    const body = { email: $('reset-email').value.trim(), code: $('reset-code').value.trim(), newPassphrase: $('reset-new').value };
    const result = await api('POST', '/auth/passphrase-resets/confirm', body);
    if (result.status === 200) {
      $('reset-code').value = '';
      $('reset-new').value = '';
      $('sign-in-email').value = body.email;
      showSignIn('Passphrase changed. Sign in with the new passphrase.');
    } else {
      $('reset-confirm-error').textContent = message(result);
    }
  }

  async function onSignOut() {
    await api('DELETE', '/auth/sessions/current');
    state.org = null;
    state.status = null;
    history.replaceState(null, '', '/console');
    showSignIn('Signed out.');
  }

  // ---- Organization choice ----
  function orgFromHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    return { org: params.get('org'), tab: params.get('tab') || 'overview' };
  }

  function route() {
    const { org, tab } = orgFromHash();
    if (org) openOrg(org, tab);
    else showOrgs();
  }

  function showOrgs() {
    $('org-error').textContent = '';
    const list = $('recent-orgs');
    list.replaceChildren(...state.recent.map((id) => el('li', {}, el('button', {
      type: 'button', class: 'link', text: id, onclick: () => { location.hash = `org=${encodeURIComponent(id)}`; },
    }))));
    $('recent-orgs-box').hidden = state.recent.length === 0;
    show('orgs');
    listManagedOrgs();
  }

  // The organizations the signed-in person administers (GET /admin/orgs), by name.
  async function listManagedOrgs() {
    const result = await api('GET', '/admin/orgs');
    if (sessionEnded(result) || result.status !== 200) return;
    const orgs = result.data.organizations || [];
    $('managed-orgs').replaceChildren(...orgs.map((org) => el('li', {}, el('button', {
      type: 'button', class: 'link', 'data-org': org.id,
      text: `${org.name} (${org.id}) · ${ROLES[org.role] || org.role}`,
      onclick: () => { location.hash = `org=${encodeURIComponent(org.id)}`; },
    }))));
    $('managed-orgs-empty').hidden = orgs.length > 0;
  }

  async function openOrg(org, tab) {
    const result = await api('GET', `/admin/orgs/${encodeURIComponent(org)}/scim`);
    if (sessionEnded(result)) return;
    if (result.status !== 200) {
      showOrgs();
      $('org-id').value = org;
      $('org-error').textContent = result.status === 403 && result.data.error === 'forbidden'
        ? `You are not an Owner or Co-Owner of “${org}”, so you cannot manage its SCIM settings.` : message(result);
      return;
    }
    if (!state.recent.includes(org)) state.recent.push(org);
    state.org = org;
    state.idp = null;
    renderStatus(result.data);
    show('scim');
    selectTab(tab, false);
  }

  // ---- The SCIM page ----
  function selectTab(tab, focus) {
    const tabs = ['overview', 'logs', 'history', 'members', 'guide'];
    const chosen = tabs.includes(tab) ? tab : 'overview';
    // A notice belongs to the tab it was given on.
    if (state.tab !== chosen) flash('');
    state.tab = chosen;
    tabs.forEach((name) => {
      const button = $(`tab-${name}`);
      button.setAttribute('aria-selected', String(name === chosen));
      button.tabIndex = name === chosen ? 0 : -1;
      $(`panel-${name}`).hidden = name !== chosen;
    });
    if (focus) $(`tab-${chosen}`).focus();
    const hash = `org=${encodeURIComponent(state.org)}${chosen === 'overview' ? '' : `&tab=${chosen}`}`;
    if (location.hash.slice(1) !== hash) history.replaceState(null, '', `#${hash}`);
    if (chosen === 'logs') loadLogs(true);
    if (chosen === 'history') loadHistory(true);
    if (chosen === 'members') {
      loadMembers(true);
      loadReconciliation(false);
    }
  }

  function onTabKey(event) {
    const tabs = Array.from(document.querySelectorAll('[role=tab]'));
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    let next = null;
    if (event.key === 'ArrowRight') next = (index + 1) % tabs.length;
    if (event.key === 'ArrowLeft') next = (index - 1 + tabs.length) % tabs.length;
    if (event.key === 'Home') next = 0;
    if (event.key === 'End') next = tabs.length - 1;
    if (next !== null) {
      event.preventDefault();
      selectTab(tabs[next].id.slice(4), true);
    }
  }

  async function reloadStatus() {
    const result = await api('GET', `/admin/orgs/${encodeURIComponent(state.org)}/scim`);
    if (sessionEnded(result)) return;
    if (result.status === 200) renderStatus(result.data);
  }

  function blockingUnmet(status) {
    return status.requirements.filter((r) => !r.met && r.requirement !== 'idp_confirmed');
  }

  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  // Day counts come from the service's clock (the status), not the browser's.
  function expiresText(token) {
    if (!token.expiresAt) return 'Never (no expiration)';
    if (token.expiredDaysAgo !== null && token.expiredDaysAgo !== undefined) {
      const ago = token.expiredDaysAgo;
      return `${utc(token.expiresAt)} (expired ${ago === 0 ? 'today' : `${plural(ago, 'day')} ago`})`;
    }
    return `${utc(token.expiresAt)} (${plural(token.daysLeft, 'day')} left)`;
  }
  // How old the token is: automatic refresh extends it, so its age tells how long one secret has lived.
  const age = (days) => (days ? `${plural(days, 'day')} old` : 'issued today');

  function renderStatus(status) {
    state.status = status;
    $('org-name').textContent = `· ${status.organizationName}`;
    document.querySelectorAll('.connector-url').forEach((node) => { node.textContent = status.connectorUrl; });
    document.querySelectorAll('.oauth-token-url').forEach((node) => { node.textContent = `${originOf(status)}/oauth/token`; });
    document.querySelectorAll('.oauth-authorize-url').forEach((node) => { node.textContent = `${originOf(status)}/oauth/authorize`; });

    // Banners: an expired token stops provisioning; one expiring that cannot be refreshed
    // automatically needs action.
    const cannotAuto = Boolean(status.lastRefreshFailure)
      || status.warnings.some((w) => w.code === 'requirements_unmet');
    const banners = status.warnings.map((w) => {
      let level = w.level;
      if (w.code === 'token_expiring_soon' && !cannotAuto) level = 'info';
      const box = el('div', { class: `banner banner-${level}`, role: level === 'error' ? 'alert' : 'status', 'data-code': w.code },
        el('p', { text: w.message }));
      if (status.enabled && (w.code === 'token_expired' || (w.code === 'token_expiring_soon' && cannotAuto))) {
        box.append(el('button', { type: 'button', class: 'primary', text: 'Refresh Token', onclick: openRefresh }));
      }
      if (status.enabled && w.code === 'oauth_client_secret_expiring') {
        box.append(el('button', { type: 'button', class: 'primary', text: 'Replace OAuth client', onclick: openOAuthCreate }));
      }
      if (status.enabled && w.code === 'tokens_revoked') {
        box.prepend(el('p', { class: 'banner-title', text: 'All tokens revoked: refresh the token to get a new one.' }));
        box.append(el('button', { type: 'button', class: 'primary', text: 'Refresh Token', onclick: openRefresh }));
      }
      return box;
    });
    $('banners').replaceChildren(...banners);
    renderHealth(status);

    // The toggle: on when enabled; off and unusable until every requirement is met.
    const toggle = $('scim-toggle');
    toggle.setAttribute('aria-checked', String(status.enabled));
    $('toggle-text').textContent = status.enabled ? 'On' : 'Off';
    const blocking = blockingUnmet(status);
    const needsIdp = !status.enabled && !state.idp;
    toggle.disabled = !status.enabled && (blocking.length > 0 || needsIdp);
    $('toggle-hint').textContent = status.enabled
      ? `Your identity provider (${IDPS[status.idp] || status.idp}) provisions members and teams.`
      : blocking.length > 0 ? 'Meet the requirements listed just below to enable SCIM.'
        : needsIdp ? 'Confirm your identity provider to enable SCIM.' : 'Ready: turn it on to generate a token.';
    $('idp-confirm').hidden = status.enabled || blocking.length > 0;
    // While SCIM is off, what is missing sits right under the switch; once on, at the end.
    const requirementsCard = $('requirements-card');
    if (status.enabled) $('panel-overview').append(requirementsCard);
    else $('toggle-card').after(requirementsCard);
    $('idp-sso').textContent = status.ssoIdp ? `SSO is configured with ${IDPS[status.ssoIdp] || status.ssoIdp}.` : '';

    // Status facts.
    const token = status.token;
    const revoked = status.enabled && Boolean(token.revokedAt);
    const [stateLabel, stateClass] = revoked ? ['Revoked', 'pill-bad'] : TOKEN_STATES[token.state] || [token.state, ''];
    const facts = [
      ['SCIM', el('span', { id: 'scim-state', text: status.enabled ? 'Enabled' : 'Disabled' })],
      ['Identity provider', status.idp ? IDPS[status.idp] || status.idp : '—'],
      ['Connector URL', el('span', { class: 'copy-row' }, el('code', { id: 'status-url', text: status.connectorUrl }),
        el('button', { type: 'button', class: 'copy', 'data-copy-from': 'status-url', text: 'Copy URL' }))],
      ['Token', el('span', { class: `pill ${stateClass}`, id: 'token-state', text: stateLabel })],
    ];
    if (token.state !== 'none') {
      facts.push(['Expires', el('span', { id: 'token-expires', text: expiresText(token) })]);
      facts.push(['Expiry window', windowLabel(token.window)]);
      facts.push(['Issued', el('span', { id: 'token-issued', text: `${utc(token.createdAt)} (${age(token.ageDays)})` })]);
      facts.push(['Last used', el('span', { id: 'token-last-used', text: token.lastUsedAt ? utc(token.lastUsedAt) : 'Never' })]);
    }
    if (token.previous) {
      const p = token.previous;
      facts.push(['Previous token', el('span', { id: 'previous-token' },
        el('span', { class: 'previous-token', text: `Still works during the overlap; stops at ${utc(p.validUntil)}` }),
        el('span', { class: 'previous-token hint', text: `Last used: ${p.lastUsedAt ? utc(p.lastUsedAt) : 'never'}` }))]);
    }
    if (revoked) facts.push(['Revoked', utc(token.revokedAt)]);
    if (status.enabled) {
      facts.push(['Automatic refresh', el('span', { id: 'auto-refresh' },
        status.autoRefresh ? 'On: the token is extended before it expires ' : 'Off: the token ends at its expiry unless you refresh it ',
        el('button', { type: 'button', class: 'link', id: 'auto-refresh-open', text: status.autoRefresh ? 'Turn off' : 'Turn on', onclick: openAutoRefresh }))]);
    }
    facts.push(['Last automatic refresh', status.lastAutoRefreshAt ? when(status.lastAutoRefreshAt) : 'None yet']);
    if (status.lastRefreshFailure) {
      facts.push(['Automatic refresh failed', `${when(status.lastRefreshFailure.at)}: ${status.lastRefreshFailure.reason}`]);
    }
    $('status-facts').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', { text: term }), el('dd', {}, value)]));
    $('refresh-open').hidden = !status.enabled;
    $('revoke-box').hidden = !status.enabled || (revoked && !status.oauthClient);
    renderOAuth(status);

    // Requirements, with what to do for an unmet one.
    $('requirements').replaceChildren(...status.requirements.map((r) => {
      // The IdP is confirmed on this page, each time SCIM is turned on: while it is off, only the
      // choice made here counts (the IdP of an earlier enablement is not a confirmation).
      const met = r.requirement === 'idp_confirmed' ? status.enabled || Boolean(state.idp) : r.met;
      let [label, todo, link] = REQUIREMENTS[r.requirement] || [r.requirement, r.message];
      if (r.requirement === 'idp_confirmed' && blocking.length > 0) {
        todo = 'Once the other requirements are met, confirm here which identity provider SSO uses.';
      }
      const item = el('li', { class: met ? 'req-met' : 'req-unmet', 'data-requirement': r.requirement },
        el('span', { class: 'req-state', text: met ? '✓ Met' : '✗ Not met' }), ' ', label);
      if (!met) {
        const what = el('span', { class: 'req-todo', text: todo });
        if (link) what.append(' ', el('a', { href: link, target: '_blank', rel: 'noopener', text: 'Open it' }));
        item.append(what);
      }
      return item;
    }));
  }

  // The OAuth client: never its secret (the status has none).
  // Connector health, computed by the service as the request log is written: what is wrong with
  // the IdP's connection and what to do (docs/ARCHITECTURE.md, "Connector health").
  function renderHealth(status) {
    const health = status.enabled ? status.health : null;
    if (!health) {
      $('health-banner').replaceChildren();
      return;
    }
    const level = health.level;
    // Its own classes: the token banners' selectors (.banner-error …) never match it.
    const box = el('div', {
      class: `banner health health-${level}`, role: level === 'error' ? 'alert' : 'status',
      'data-code': `health-${health.state}`, id: 'health',
    });
    const title = health.state === 'healthy' && health.since
      ? `${health.headline.replace(/\.$/, '')} (since ${utc(health.since)}).` : health.headline;
    box.append(el('p', { class: 'banner-title', text: title }));
    if (health.advice) box.append(el('p', { class: 'health-advice', text: health.advice }));
    if (health.topReasons && health.topReasons.length) {
      box.append(el('ul', { class: 'health-reasons' },
        ...health.topReasons.map((r) => el('li', { text: `${r.reason}: ${plural(r.count, 'request')}` }))));
    }
    if (health.state !== 'healthy' && health.state !== 'waiting' && health.since) {
      box.append(el('p', { class: 'muted', text: `Since ${utc(health.since)}. Owners and co-owners are emailed when it starts (at most once a day).` }));
    }
    if (health.unknownTokens) {
      box.append(el('p', { class: 'health-unknown muted',
        text: `${plural(health.unknownTokens, 'request')} in the last hour came with a token this organization never issued (or none): counted, not acted on.` }));
    }
    if (health.logFilter) {
      box.append(el('button', { type: 'button', class: 'primary', text: 'Show these requests in the log', onclick: () => showFilteredLog(health.logFilter) }));
    }
    $('health-banner').replaceChildren(box);
  }

  // Opens the request log filtered as the health banner says (a class such as 4xx, or a code).
  function showFilteredLog(filter) {
    const isClass = /xx$/.test(filter);
    $('f-status').value = isClass ? filter : 'code';
    $('f-code').value = isClass ? '' : filter;
    $('f-code-box').hidden = isClass;
    selectTab('logs', true);
  }

  function renderOAuth(status) {
    $('oauth-card').hidden = !status.enabled;
    const client = status.oauthClient;
    $('oauth-none').hidden = Boolean(client);
    $('oauth-facts').hidden = !client;
    $('oauth-delete-open').hidden = !client;
    $('oauth-create-open').textContent = client ? 'Replace OAuth client' : 'Create OAuth client';
    if (!client) {
      $('oauth-facts').replaceChildren();
      return;
    }
    const uris = client.redirectUris.length
      ? el('ul', { class: 'uris' }, ...client.redirectUris.map((u) => el('li', {}, el('code', { text: u }))))
      : 'None (client credentials only)';
    const facts = [
      ['Client ID', el('span', { class: 'copy-row' }, el('code', { id: 'oauth-client-id', text: client.clientId }),
        el('button', { type: 'button', class: 'copy', 'data-copy-from': 'oauth-client-id', text: 'Copy client ID' }))],
      ['Redirect URIs', uris],
      ['Secret expires', utc(client.secretExpiresAt)],
      ['Created', utc(client.createdAt)],
      ['Last used', client.lastUsedAt ? utc(client.lastUsedAt) : 'Never'],
      ['Token endpoint URL', el('code', { text: client.tokenUrl })],
      ['Authorize URL', el('code', { text: client.authorizeUrl })],
    ];
    $('oauth-facts').replaceChildren(...facts.flatMap(([term, value]) => [el('dt', { text: term }), el('dd', {}, value)]));
  }

  function onIdpChosen(event) {
    state.idp = event.target.value;
    if (state.status) renderStatus(state.status);
  }

  function onToggle() {
    if (!state.status) return;
    if (state.status.enabled) {
      $('disable-error').textContent = '';
      $('disable-passphrase').value = '';
      $('disable-dialog').showModal();
      // Enter must not disable by accident: the safe choice has the focus.
      $('disable-dialog').querySelector('.cancel').focus();
    } else {
      $('enable-error').textContent = '';
      $('enable-passphrase').value = '';
      $('enable-idp').textContent = IDPS[state.idp] || state.idp;
      $('enable-dialog').showModal();
      $('enable-window').focus();
    }
  }

  async function onEnable(event) {
    event.preventDefault();
    const passphrase = $('enable-passphrase').value;
    if (!passphrase) {
      $('enable-error').textContent = 'Enter your passphrase.';
      $('enable-passphrase').focus();
      return;
    }
    $('enable-generate').disabled = true;
    const result = await api('POST', `/admin/orgs/${encodeURIComponent(state.org)}/scim/enable`,
      { idp: state.idp, window: $('enable-window').value, passphrase });
    $('enable-generate').disabled = false;
    $('enable-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 201) {
      $('enable-dialog').close();
      showToken(result.data);
      // The page behind the dialog says what is now true (on, enabled), not what was.
      reloadStatus();
    } else if (result.data.error === 'wrong_passphrase') {
      $('enable-error').textContent = 'The passphrase is incorrect. Nothing was changed.';
      $('enable-passphrase').focus();
    } else {
      const unmet = (result.data.unmet || []).map((u) => u.message).join('; ');
      $('enable-error').textContent = unmet ? `${message(result)}` : message(result);
    }
  }

  // Whether a current token exists that an overlap could keep working.
  function hasLiveToken() {
    const token = state.status && state.status.token;
    return Boolean(token && !token.revokedAt && token.state !== 'none' && token.state !== 'expired');
  }

  function overlapHint() {
    const hours = Number($('refresh-overlap').value);
    $('refresh-overlap-hint').textContent = hours === 0
      ? 'The current token stops working as soon as the new one is generated.'
      : `The previous token keeps working until about ${utc(new Date(Date.now() + hours * 3600000).toISOString())}, `
        + 'so you can paste the new one into your identity provider without a gap.';
  }

  function openRefresh() {
    $('refresh-error').textContent = '';
    $('refresh-passphrase').value = '';
    const current = state.status && state.status.token.window;
    $('refresh-window').value = current || '90d';
    const live = hasLiveToken();
    $('refresh-overlap-box').hidden = !live;
    $('refresh-overlap').value = '0';
    overlapHint();
    $('refresh-intro').textContent = live
      ? 'The connector URL stays the same. Paste the new token into your identity provider.'
      : 'The current token no longer works. The connector URL stays the same: paste the new token into your identity provider to provision again.';
    $('refresh-dialog').showModal();
    $('refresh-passphrase').focus();
  }

  async function onRefresh(event) {
    event.preventDefault();
    const passphrase = $('refresh-passphrase').value;
    if (!passphrase) {
      $('refresh-error').textContent = 'Enter your passphrase.';
      return;
    }
    $('refresh-submit').disabled = true;
    const overlapHours = hasLiveToken() ? Number($('refresh-overlap').value) : 0;
    const result = await api('POST', `/admin/orgs/${encodeURIComponent(state.org)}/scim/token/refresh`,
      { passphrase, window: $('refresh-window').value, overlapHours });
    $('refresh-submit').disabled = false;
    $('refresh-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 200) {
      $('refresh-dialog').close();
      showToken(result.data);
      reloadStatus();
    } else {
      $('refresh-error').textContent = result.data.error === 'wrong_passphrase'
        ? 'The passphrase is incorrect. Nothing was changed: the current token still works.' : message(result);
      $('refresh-passphrase').focus();
    }
  }

  function openAutoRefresh() {
    const on = state.status && state.status.autoRefresh;
    $('auto-refresh-error').textContent = '';
    $('auto-refresh-passphrase').value = '';
    $('auto-refresh-title').textContent = on ? 'Turn automatic refresh off?' : 'Turn automatic refresh on?';
    $('auto-refresh-what').textContent = on
      ? 'The token then ends at its expiry: owners and co-owners are emailed 20, 7 and 1 day(s) before, and you refresh it yourself. A token that is never extended cannot live forever.'
      : 'The token is then extended by its window before it expires, while the organization meets every requirement.';
    $('auto-refresh-confirm').textContent = on ? 'Turn off' : 'Turn on';
    $('auto-refresh-dialog').showModal();
    $('auto-refresh-passphrase').focus();
  }

  async function onAutoRefresh(event) {
    event.preventDefault();
    const passphrase = $('auto-refresh-passphrase').value;
    if (!passphrase) {
      $('auto-refresh-error').textContent = 'Enter your passphrase.';
      return;
    }
    const enabled = !(state.status && state.status.autoRefresh);
    $('auto-refresh-confirm').disabled = true;
    const result = await api('POST', `/admin/orgs/${encodeURIComponent(state.org)}/scim/auto-refresh`, { passphrase, enabled });
    $('auto-refresh-confirm').disabled = false;
    $('auto-refresh-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 200) {
      $('auto-refresh-dialog').close();
      renderStatus(result.data);
      flash(enabled ? 'Automatic refresh is on.' : 'Automatic refresh is off: refresh the token before it expires.');
    } else {
      $('auto-refresh-error').textContent = result.data.error === 'wrong_passphrase'
        ? 'The passphrase is incorrect. Nothing was changed.' : message(result);
      $('auto-refresh-passphrase').focus();
    }
  }

  function openRevoke() {
    $('revoke-error').textContent = '';
    $('revoke-passphrase').value = '';
    $('revoke-dialog').showModal();
    $('revoke-passphrase').focus();
  }

  async function onRevoke(event) {
    event.preventDefault();
    const passphrase = $('revoke-passphrase').value;
    if (!passphrase) {
      $('revoke-error').textContent = 'Enter your passphrase.';
      return;
    }
    $('revoke-confirm').disabled = true;
    const result = await api('POST', `/admin/orgs/${encodeURIComponent(state.org)}/scim/token/revoke`, { passphrase });
    $('revoke-confirm').disabled = false;
    $('revoke-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 200) {
      $('revoke-dialog').close();
      flash('Every token and OAuth grant is revoked. SCIM stays enabled; refresh the token to provision again.');
      renderStatus(result.data);
      $('refresh-open').focus();
    } else {
      $('revoke-error').textContent = result.data.error === 'wrong_passphrase'
        ? 'The passphrase is incorrect. Nothing was changed: the tokens still work.' : message(result);
      $('revoke-passphrase').focus();
    }
  }

  // ---- The OAuth client ----
  function openOAuthCreate() {
    $('oauth-create-error').textContent = '';
    $('oauth-passphrase').value = '';
    $('oauth-replace-note').hidden = !(state.status && state.status.oauthClient);
    $('oauth-create-dialog').showModal();
    $('oauth-redirects').focus();
  }

  async function onOAuthCreate(event) {
    event.preventDefault();
    const passphrase = $('oauth-passphrase').value;
    if (!passphrase) {
      $('oauth-create-error').textContent = 'Enter your passphrase.';
      $('oauth-passphrase').focus();
      return;
    }
    const redirectUris = $('oauth-redirects').value.split('\n').map((u) => u.trim()).filter((u) => u);
    $('oauth-create-submit').disabled = true;
    const result = await api('POST', `/admin/orgs/${encodeURIComponent(state.org)}/scim/oauth/client`,
      { passphrase, redirectUris });
    $('oauth-create-submit').disabled = false;
    $('oauth-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 201) {
      $('oauth-create-dialog').close();
      $('oauth-redirects').value = '';
      showSecret(result.data);
    } else {
      $('oauth-create-error').textContent = result.data.error === 'wrong_passphrase'
        ? 'The passphrase is incorrect. Nothing was changed.' : message(result);
      $('oauth-passphrase').focus();
    }
  }

  function openOAuthDelete() {
    $('oauth-delete-error').textContent = '';
    $('oauth-delete-passphrase').value = '';
    $('oauth-delete-dialog').showModal();
    $('oauth-delete-passphrase').focus();
  }

  async function onOAuthDelete(event) {
    event.preventDefault();
    const passphrase = $('oauth-delete-passphrase').value;
    if (!passphrase) {
      $('oauth-delete-error').textContent = 'Enter your passphrase.';
      $('oauth-delete-passphrase').focus();
      return;
    }
    $('oauth-delete-confirm').disabled = true;
    const result = await api('DELETE', `/admin/orgs/${encodeURIComponent(state.org)}/scim/oauth/client`, { passphrase });
    $('oauth-delete-confirm').disabled = false;
    $('oauth-delete-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 204) {
      $('oauth-delete-dialog').close();
      flash('The OAuth client is deleted; its grants are refused from now on.');
      await reloadStatus();
      $('oauth-create-open').focus();
    } else {
      $('oauth-delete-error').textContent = result.data.error === 'wrong_passphrase'
        ? 'The passphrase is incorrect. Nothing was changed.' : message(result);
      $('oauth-delete-passphrase').focus();
    }
  }

  async function onDisable(event) {
    event.preventDefault();
    const passphrase = $('disable-passphrase').value;
    if (!passphrase) {
      $('disable-error').textContent = 'Enter your passphrase.';
      $('disable-passphrase').focus();
      return;
    }
    $('disable-confirm').disabled = true;
    const result = await api('POST', `/admin/orgs/${encodeURIComponent(state.org)}/scim/disable`, { passphrase });
    $('disable-confirm').disabled = false;
    $('disable-passphrase').value = '';
    if (sessionEnded(result)) return;
    if (result.status === 200) {
      $('disable-dialog').close();
      // The banner says it is disabled and what that means; no second notice.
      flash('');
      // Enabling again confirms the IdP again: nothing on the page claims it is confirmed.
      state.idp = null;
      document.querySelectorAll('input[name=idp]').forEach((radio) => { radio.checked = false; });
      renderStatus(result.data);
      $('scim-toggle').focus();
    } else {
      $('disable-error').textContent = result.data.error === 'wrong_passphrase'
        ? 'The passphrase is incorrect. Nothing was changed: SCIM stays enabled.' : message(result);
      $('disable-passphrase').focus();
    }
  }

  // ---- The once-only token dialog ----
  function tokenDialog(kind) {
    shownKind = kind;
    const client = kind === 'client';
    $('client-rows').hidden = !client;
    $('token-title').textContent = client ? 'Your OAuth client for SCIM' : 'Your SCIM connector';
    $('token-warning').replaceChildren(`This ${client ? 'client secret' : 'token'} is shown `,
      el('strong', { text: 'only once' }),
      client ? '. Copy it now into your identity provider; it cannot be shown again (create a new client to get a new one).'
        : '. Copy it now into your identity provider; it cannot be shown again (refresh it to get a new one).');
    $('token-value-label').textContent = client ? 'Client secret' : 'Token';
    $('token-copy').textContent = client ? 'Copy secret' : 'Copy token';
    $('token-done').textContent = client ? 'I have stored the secret — close' : 'I have stored the token — close';
  }

  function showSecret(issued) {
    tokenDialog('client');
    shownToken = issued.clientSecret;
    idpFields(null);
    $('token-url').value = state.status ? state.status.connectorUrl : '';
    $('client-id-value').value = issued.clientId;
    $('client-token-url').value = issued.tokenUrl;
    $('client-authorize-url').value = issued.authorizeUrl;
    $('token-value').value = shownToken;
    $('token-expiry').textContent = `The secret expires on ${day(issued.secretExpiresAt)}.`;
    $('copy-status').textContent = '';
    $('token-dialog').showModal();
    $('token-value').focus();
    $('token-value').select();
  }

  function idpFields(idp) {
    const fields = IDP_FIELDS[idp];
    const name = IDPS[idp] || idp;
    $('token-url-where').textContent = fields ? `→ in ${name}: “${fields.url}”` : '';
    $('token-value-where').textContent = fields && shownKind === 'token' ? `→ in ${name}: “${fields.token}”` : '';
    $('token-userid-where').hidden = !(fields && fields.userId && shownKind === 'token');
    $('token-userid-where').textContent = fields && fields.userId ? `Also in ${name}: “${fields.userId}”.` : '';
  }

  function showToken(issued) {
    tokenDialog('token');
    shownToken = issued.token;
    idpFields(issued.idp || (state.status && state.status.idp) || state.idp);
    $('token-url').value = issued.connectorUrl;
    $('token-value').value = shownToken;
    $('token-expiry').textContent = issued.expiresAt
      ? `It expires on ${utc(issued.expiresAt)} (${windowLabel(issued.window)}).` : 'It does not expire (no expiration).';
    $('copy-status').textContent = '';
    $('token-dialog').showModal();
    $('token-value').focus();
    $('token-value').select();
  }

  function clearToken() {
    shownToken = null;
    $('token-value').value = '';
    $('token-url').value = '';
    ['client-id-value', 'client-token-url', 'client-authorize-url'].forEach((id) => { $(id).value = ''; });
    $('copy-status').textContent = '';
  }

  // The dialog closed (its button, or Escape): the token or secret is gone from the page.
  function forgetToken() {
    const client = shownKind === 'client';
    clearToken();
    flash(client ? 'The client secret is no longer shown. Create a new client if you need a new one.'
      : 'The token is no longer shown. Refresh it if you need a new one.');
    reloadStatus();
    $(client ? 'oauth-create-open' : 'scim-toggle').focus();
  }

  async function copyFrom(id) {
    const source = $(id);
    const text = id === 'token-value' ? shownToken : (source.value !== undefined ? source.value : source.textContent);
    const status = $('copy-status');
    try {
      await navigator.clipboard.writeText(text || '');
      if (status) status.textContent = 'Copied.';
      flash(id === 'token-value' ? '' : 'Copied.');
    } catch (err) {
      // No clipboard permission: select the text so Ctrl+C / ⌘C copies it.
      if (source.select) source.select();
      if (status) status.textContent = 'Press Ctrl+C (⌘C) to copy the selected text.';
    }
  }

  // ---- Request logs ----
  function logQuery() {
    const params = new URLSearchParams();
    const statusChoice = $('f-status').value;
    if (statusChoice === 'code') {
      if ($('f-code').value.trim()) params.set('status', $('f-code').value.trim());
    } else if (statusChoice) params.set('status', statusChoice);
    if ($('f-method').value) params.set('method', $('f-method').value);
    if ($('f-resource').value) params.set('resourceType', $('f-resource').value);
    if ($('f-subject').value.trim()) params.set('subject', $('f-subject').value.trim());
    if ($('f-operation').value) params.set('operation', $('f-operation').value);
    if ($('f-from').value) params.set('from', utcInput($('f-from').value));
    if ($('f-to').value) params.set('to', utcInput($('f-to').value));
    params.set('limit', '25');
    return params;
  }

  async function loadLogs(fresh) {
    if (fresh) cursors.logs = null;
    const params = logQuery();
    if (cursors.logs) params.set('cursor', cursors.logs);
    const result = await api('GET', `/admin/orgs/${encodeURIComponent(state.org)}/scim/logs?${params}`);
    if (sessionEnded(result)) return;
    if (result.status !== 200) {
      $('logs-error').textContent = message(result);
      return;
    }
    $('logs-error').textContent = '';
    const rows = result.data.logs.map((log) => {
      const path = el('td', { class: 'path', 'data-label': 'Path' }, decoded(log.path) + (log.query ? `?${decoded(log.query)}` : ''));
      // Why it failed, on the row itself.
      if (log.status >= 400 && log.detail) path.append(el('span', { class: 'reason', text: log.detail }));
      if (log.refused) path.append(el('span', { class: 'reason', text: 'Sent ' + log.refused + '.' }));
      return el('tr', { 'data-status': String(log.status), 'data-method': log.method },
        el('td', { text: seconds(log.at), 'data-label': 'Time' }),
        el('td', { text: log.method, 'data-label': 'Method' }),
        el('td', { class: 'summary', text: log.summary || '—', 'data-label': 'What' }),
        path,
        el('td', { 'data-label': 'Status' }, el('span', { class: `pill ${log.status < 300 ? 'pill-ok' : log.status < 500 ? 'pill-warn' : 'pill-bad'}`, text: String(log.status) })),
        el('td', { text: idpName(log.idp), 'data-label': 'IdP' }),
        el('td', {}, el('button', { type: 'button', class: 'link', text: 'Details', 'aria-label': `Details of ${log.method} ${decoded(log.path)} at ${seconds(log.at)}`, onclick: () => showLog(log) })));
    });
    if (fresh) $('logs-body').replaceChildren(...rows);
    else $('logs-body').append(...rows);
    cursors.logs = result.data.nextCursor || null;
    $('logs-more').hidden = !cursors.logs;
    $('logs-empty').hidden = $('logs-body').children.length > 0;
  }

  function showLog(log) {
    const facts = [
      ['Time (UTC)', seconds(log.at)], ['Method', log.method], ['Path', decoded(log.path)], ['Query', log.query ? decoded(log.query) : '—'],
      ['Status', String(log.status)], ['scimType', log.scimType || '—'], ['Detail', log.detail || '—'], ['Credential', log.refused ? 'Sent ' + log.refused : '—'],
      ['IdP', idpName(log.idp)], ['User-Agent', log.userAgent || '—'], ['Resource type', log.resourceType || '—'],
      ['Tolerances applied', log.tolerances.length ? log.tolerances.join(', ') : 'None'],
      ['Latency', `${log.latencyMs} ms`], ['Request ID', log.requestId],
    ];
    if (log.summary) facts.unshift(['What', log.summary]);
    if (log.subject) facts.splice(1, 0, ['Subject', `${log.subject.name || '—'} (${log.subject.kind || 'resource'} ${log.subject.id})`]);
    $('log-facts').replaceChildren(...facts.flatMap(([t, v]) => [el('dt', { text: t }), el('dd', { text: v })]));
    $('log-request-body').textContent = bodyText(log.requestBody);
    $('log-response-body').textContent = bodyText(log.responseBody);
    $('log-dialog').showModal();
  }

  // A stored body (already masked), indented when it is JSON that was kept whole.
  function bodyText(body) {
    if (!body) return '(none)';
    if (!body.truncated) {
      try { return JSON.stringify(JSON.parse(body.text), null, 2); } catch (_) { /* not JSON: as stored */ }
    }
    return body.text;
  }

  // ---- A member's provisioning timeline ----
  async function showTimeline(member) {
    const result = await api('GET', `/admin/orgs/${encodeURIComponent(state.org)}/members/${encodeURIComponent(member.id)}/timeline`);
    if (sessionEnded(result) || result.status !== 200) return;
    $('timeline-title').textContent = `Provisioning timeline of ${member.userName || member.email}`;
    const items = result.data.events.map((e) => el('li', { 'data-summary': e.summary },
      el('div', {}, el('strong', { text: e.summary }), el('span', { class: 'hint', text: ` — ${seconds(e.at)}, ${idpName(e.idp)}` })),
      ...e.changes.map((c) => el('div', { class: 'change', text: `${c.attribute}: ${c.old === null || c.old === undefined ? '∅' : c.old} → ${c.new === null || c.new === undefined ? '∅' : c.new}` }))));
    $('timeline-events').replaceChildren(...items);
    $('timeline-empty').hidden = items.length > 0;
    $('timeline-dialog').showModal();
  }

  // ---- History, members ----
  async function loadHistory(fresh) {
    if (fresh) cursors.history = null;
    const params = new URLSearchParams({ limit: '25' });
    if (cursors.history) params.set('cursor', cursors.history);
    const result = await api('GET', `/admin/orgs/${encodeURIComponent(state.org)}/scim/history?${params}`);
    if (sessionEnded(result) || result.status !== 200) return;
    const rows = result.data.history.map((h) => {
      let what = ACTIONS[h.action] || h.action;
      if (h.overlapUntil) what += ` (the previous token works until ${utc(h.overlapUntil)})`;
      if (h.previousTokenExpiresAt) what += ` (expiry ${day(h.previousTokenExpiresAt)} → ${day(h.tokenExpiresAt)})`;
      if (h.clientId) what += ` (${h.clientId})`;
      if (h.attempted) what += ` ${ATTEMPTED[h.attempted] || h.attempted}`;
      const expiry = h.tokenExpiresAt ? day(h.tokenExpiresAt) : (TOKEN_ACTIONS.includes(h.action) ? 'Never' : '—');
      return el('tr', { 'data-action': h.action },
        el('td', { text: when(h.at), 'data-label': 'When' }),
        el('td', { text: what, 'data-label': 'What' }),
        el('td', { text: h.actor || (h.action === 'token_auto_refreshed' ? 'Token scheduler' : 'Automatic'), 'data-label': 'Who' }),
        el('td', { text: h.idp ? IDPS[h.idp] || h.idp : '—', 'data-label': 'IdP' }),
        el('td', { text: expiry, 'data-label': 'Token expiry' }));
    });
    if (fresh) $('history-body').replaceChildren(...rows);
    else $('history-body').append(...rows);
    cursors.history = result.data.nextCursor || null;
    $('history-more').hidden = !cursors.history;
    $('history-empty').hidden = $('history-body').children.length > 0;
  }

  async function loadMembers(fresh) {
    if (fresh) cursors.members = null;
    const params = new URLSearchParams({ limit: '25' });
    if (cursors.members) params.set('cursor', cursors.members);
    const result = await api('GET', `/admin/orgs/${encodeURIComponent(state.org)}/members?${params}`);
    if (sessionEnded(result) || result.status !== 200) return;
    const l = result.data.licenses;
    const licenses = [
      ['SCIM-provisioned', l.scimProvisioned], ['Added by hand', l.manual], ['Total using a license', l.totalConsuming],
      ['Seat limit', l.seatLimit === null || l.seatLimit === undefined ? 'None' : l.seatLimit],
      ['Available', l.available === null || l.available === undefined ? 'Unlimited' : l.available],
    ];
    $('licenses').replaceChildren(...licenses.flatMap(([t, v]) => [el('dt', { text: t }), el('dd', { text: String(v) })]));
    const rows = result.data.members.map((m) => el('tr', {},
      el('td', { 'data-label': 'Member' }, m.email, m.userName && m.userName !== m.email ? el('span', { class: 'hint', text: ` (${m.userName})` }) : ''),
      el('td', { text: m.managedBy === 'scim' ? 'SCIM' : 'Manual', 'data-label': 'Source' }),
      el('td', { text: m.active ? 'Active' : 'Deactivated', 'data-label': 'State' }),
      el('td', { text: ROLES[m.role] || m.role, 'data-label': 'Role' }),
      el('td', { text: m.teams.length ? m.teams.map((t) => t.displayName).join(', ') : '—', 'data-label': 'Teams' }),
      el('td', {}, el('button', { type: 'button', class: 'link', text: 'Timeline', 'aria-label': `Provisioning timeline of ${m.email}`, onclick: () => showTimeline(m) }))));
    if (fresh) $('members-body').replaceChildren(...rows);
    else $('members-body').append(...rows);
    cursors.members = result.data.nextCursor || null;
    $('members-more').hidden = !cursors.members;
  }

  // ---- Reconciliation after the first sync (docs/ARCHITECTURE.md, "Reconciliation") ----
  // The stored summary is read (one item); the first visit computes one, and "Check again" does.
  async function loadReconciliation(recompute) {
    const path = `/admin/orgs/${encodeURIComponent(state.org)}/members/reconciliation`;
    let result = await api(recompute ? 'POST' : 'GET', path);
    if (sessionEnded(result)) return;
    if (result.status === 200 && !recompute && !result.data.summary) {
      result = await api('POST', path);
      if (sessionEnded(result)) return;
    }
    if (result.status !== 200) {
      $('reconciliation-summary').textContent = message(result);
      return;
    }
    renderReconciliation(result.data);
  }

  function renderReconciliation(data) {
    const s = data.summary;
    const idp = data.idp || 'your identity provider';
    $('reconciliation-as-of').textContent = s
      ? `Checked ${utc(s.computedAt)}: ${plural(s.membersRead, 'member')} read in ${s.elapsedMs} ms.${data.changedSince ? ' Members changed since: check again to include the changes.' : ''}`
      : '';
    if (!s || !s.idpSynced) {
      $('reconciliation-summary').textContent = `Nothing to reconcile yet: ${idp} has not provisioned anyone. After its first sync, this lists the members added by hand that it has not taken over, and the accounts it created twice.`;
      $('reconciliation-counts').replaceChildren();
      $('reconciliation-manual').hidden = true;
      $('reconciliation-mismatches').hidden = true;
      return;
    }
    const m = s.manual;
    const x = s.mismatches;
    $('reconciliation-summary').textContent = m.count === 0 && x.count === 0
      ? `Every member is managed by ${idp}: nothing to reconcile.`
      : `${plural(m.count, 'member')} added by hand ${m.count === 1 ? 'is' : 'are'} not managed by ${idp} and ${m.count === 1 ? 'uses' : 'use'} ${plural(m.licenses, 'license')}; ${plural(x.count, 'likely second account')}.`;
    const counts = [
      ['Added by hand, not taken over', m.count],
      ['Their licenses', m.licenses],
      ['Likely second accounts', `${x.count} (${x.byDomain} by domain, ${x.byAlias} by alias)`],
      ['Extra licenses from second accounts', x.extraLicenses],
      ['Licenses these represent', s.totalLicenses],
    ];
    $('reconciliation-counts').replaceChildren(...counts.flatMap(([t, v]) => [el('dt', { text: t }), el('dd', { text: String(v) })]));

    $('reconciliation-manual').hidden = m.count === 0;
    const shown = (listed, count) => (listed < count ? ` The first ${listed} of ${count} are listed.` : '');
    $('reconciliation-manual-hint').textContent = `They keep using a license as long as they stay. Either remove them (in the Insomnia web app, Enterprise Controls → Members), or assign them to the Insomnia app in ${idp}: its next sync takes each over, matched by email.${shown(m.listed.length, m.count)}`;
    $('reconciliation-manual-body').replaceChildren(...m.listed.map((r) => el('tr', {},
      el('td', { text: r.email, 'data-label': 'Member' }),
      el('td', { text: r.active ? 'Active' : 'Deactivated', 'data-label': 'State' }),
      el('td', { text: ROLES[r.role] || r.role, 'data-label': 'Role' }),
      el('td', { text: r.consumesLicense ? 'Uses one' : 'None', 'data-label': 'License' }))));

    $('reconciliation-mismatches').hidden = x.count === 0;
    $('reconciliation-mismatches-hint').textContent = `${idp} sent these users with an address that differs from an existing member's email only by domain or by alias, so a second account was created instead of linking; each active pair takes one more license. Fix the user's userName and email in ${idp}, then remove the second account.${shown(x.listed.length, x.count)}`;
    const KINDS = { domain: 'Domain', alias: 'Alias (+…)' };
    $('reconciliation-mismatches-body').replaceChildren(...x.listed.map((r) => el('tr', {},
      el('td', { text: r.manualEmail, 'data-label': 'Existing member' }),
      el('td', { 'data-label': 'Created by the identity provider' }, r.provisionedUserName,
        r.provisionedEmail.toLowerCase() !== r.provisionedUserName.toLowerCase() ? el('span', { class: 'hint', text: ` (email ${r.provisionedEmail})` }) : ''),
      el('td', { text: KINDS[r.kind] || r.kind, 'data-label': 'Differs by' }),
      el('td', { text: String(r.extraLicenses), 'data-label': 'Extra licenses' }),
      el('td', { text: `In ${idp}, set the user's userName and email to ${r.manualEmail}`, 'data-label': 'What to fix' }))));
  }

  // ---- Wiring ----
  function wire() {
    fillWindows();
    $('sign-in-form').addEventListener('submit', onSignIn);
    $('forgot').addEventListener('click', () => {
      $('reset-email').value = $('sign-in-email').value;
      $('reset-request-form').hidden = false;
      $('reset-confirm-form').hidden = true;
      flash('');
      show('reset');
    });
    $('reset-back').addEventListener('click', () => showSignIn(''));
    $('reset-request-form').addEventListener('submit', onResetRequest);
    $('reset-confirm-form').addEventListener('submit', onResetConfirm);
    $('change-form').addEventListener('submit', onChange);
    $('sign-out').addEventListener('click', onSignOut);
    $('org-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const id = $('org-id').value.trim();
      if (!id) {
        $('org-error').textContent = 'Enter the organization ID.';
        return;
      }
      if (orgFromHash().org === id) route();
      else location.hash = `org=${encodeURIComponent(id)}`;
    });
    $('change-org').addEventListener('click', () => {
      state.org = null;
      history.replaceState(null, '', '/console');
      flash('');
      showOrgs();
    });
    ['overview', 'logs', 'history', 'members', 'guide'].forEach((tab) => {
      $(`tab-${tab}`).addEventListener('click', () => selectTab(tab, false));
    });
    $('tabs').addEventListener('keydown', onTabKey);
    document.querySelectorAll('input[name=idp]').forEach((radio) => radio.addEventListener('change', onIdpChosen));
    $('scim-toggle').addEventListener('click', onToggle);
    $('enable-form').addEventListener('submit', onEnable);
    $('refresh-open').addEventListener('click', openRefresh);
    $('refresh-form').addEventListener('submit', onRefresh);
    $('refresh-overlap').addEventListener('change', overlapHint);
    $('revoke-open').addEventListener('click', openRevoke);
    $('revoke-form').addEventListener('submit', onRevoke);
    $('auto-refresh-form').addEventListener('submit', onAutoRefresh);
    $('oauth-create-open').addEventListener('click', openOAuthCreate);
    $('oauth-create-form').addEventListener('submit', onOAuthCreate);
    $('oauth-delete-open').addEventListener('click', openOAuthDelete);
    $('oauth-delete-form').addEventListener('submit', onOAuthDelete);
    $('disable-form').addEventListener('submit', onDisable);
    $('token-done').addEventListener('click', () => {
      clearToken();
      $('token-dialog').close();
    });
    $('token-dialog').addEventListener('close', forgetToken);
    // Escape would lose the token for good: only the button closes this dialog.
    $('token-dialog').addEventListener('cancel', (event) => event.preventDefault());
    document.querySelectorAll('dialog .cancel').forEach((button) => {
      button.addEventListener('click', () => button.closest('dialog').close());
    });
    document.addEventListener('click', (event) => {
      const button = event.target.closest('button.copy');
      if (button) copyFrom(button.dataset.copyFrom);
    });
    $('f-status').addEventListener('change', () => { $('f-code-box').hidden = $('f-status').value !== 'code'; });
    $('log-filters').addEventListener('submit', (event) => { event.preventDefault(); loadLogs(true); });
    $('f-clear').addEventListener('click', () => {
      $('log-filters').reset();
      $('f-code-box').hidden = true;
      loadLogs(true);
    });
    $('logs-more').addEventListener('click', () => loadLogs(false));
    $('history-more').addEventListener('click', () => loadHistory(false));
    $('members-more').addEventListener('click', () => loadMembers(false));
    $('reconcile').addEventListener('click', () => loadReconciliation(true));
    window.addEventListener('hashchange', () => { if (state.csrf) route(); });
  }

  async function boot() {
    wire();
    // A probe: without a session the answer is 200 `signedIn: false`, not a 401 the browser reports as an error.
    const result = await api('GET', '/auth/sessions/current', undefined, { 'X-Session-Probe': '1' });
    if (result.status === 200 && result.data.signedIn !== false && result.data.tokenType === 'Cookie') signedIn(result.data);
    else showSignIn('');
  }

  boot();
}());

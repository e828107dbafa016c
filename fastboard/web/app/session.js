// Who is signed in. The token lives in localStorage so a reload keeps the session; the
// user object is fetched again at start (GET /api/user) so a role change or a deleted
// account is seen at once.
const KEY = "fastboard.token";
const listeners = new Set();

export const session = {
  token: localStorage.getItem(KEY),
  /** @type {null | {username: string, email: string, bio: string|null, image: string|null, role: string, token: string}} */
  user: null,

  get signedIn() {
    return this.user !== null;
  },

  get isModerator() {
    return this.user !== null && (this.user.role === "moderator" || this.user.role === "admin");
  },

  get isAdmin() {
    return this.user !== null && this.user.role === "admin";
  },

  set(user) {
    this.user = user;
    this.token = user.token;
    localStorage.setItem(KEY, user.token);
    notify();
  },

  clear() {
    const was = this.token;
    this.user = null;
    this.token = null;
    localStorage.removeItem(KEY);
    if (was) notify();
  },

  /**
   * Run `work` (a password change: the API spends the old token and answers a new one,
   * which `work` passes to set()). Meanwhile the live connection may be closed for the old
   * token (4401) before the answer arrives: live.js waits for `renewing` before it takes
   * that close as a sign-out.
   */
  async renew(work) {
    const running = work();
    this.renewing = running;
    try {
      return await running;
    } finally {
      if (this.renewing === running) this.renewing = null;
    }
  },

  /** @type {null | Promise<unknown>} */
  renewing: null,

  /** Call fn(session) on every sign-in, sign-out or profile change; returns an unsubscribe. */
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

function notify() {
  for (const fn of listeners) fn(session);
}

// Another tab signed in or out: follow it.
window.addEventListener("storage", (event) => {
  if (event.key !== KEY) return;
  if (event.newValue === null) session.clear();
  else location.reload();
});

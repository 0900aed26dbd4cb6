/** Connection strings carry passwords; anything that may reach an error or a log goes through here. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_m, scheme: string, auth: string) => {
    const user = auth.split(':')[0] ?? '';
    return `${scheme}${user ? `${user}:***` : '***'}@`;
  });
}

/** Removes every occurrence of `secrets` from a message (e.g. a password echoed by a server error). */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined | null>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 3) out = out.split(s).join('***');
  return out;
}

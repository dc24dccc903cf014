## The host app's API keys: rotation with an overlap, revocation, last use.
console-nav-api-keys = API keys
console-api-keys-title = API keys
console-api-keys-intro = The keys your app servers use to call idlink. A key's secret is never shown here: only when it is created or rotated, once. To change a key without downtime, rotate it: the new key and the old one both work for the overlap you choose, then the old one is refused. Put the new key on every server before the overlap ends.
console-api-keys-none = No API keys yet. Create one with `idlink apikey create`.
console-api-keys-name = Name
console-api-keys-id = Key
console-api-keys-scopes = Scopes
console-api-keys-state = State
console-api-keys-last-used = Last used
console-api-keys-replaces = Replaces
console-api-keys-actions = Actions
console-api-keys-created = created { $at }
console-api-keys-active = Works
console-api-keys-expiring = Works until { $at }
console-api-keys-expired = Expired { $at }
console-api-keys-revoked = Revoked { $at }
console-api-keys-never = Never used
console-api-keys-overlap = Both keys work for
console-api-keys-life = New key expires after
console-api-keys-hours = { $n ->
    [one] { $n } hour
   *[other] { $n } hours
}
console-api-keys-days = { $n } days
console-api-keys-no-expiry = Never (until rotated or revoked)
console-api-keys-rotate = Rotate
console-api-keys-revoke = Revoke now
console-api-keys-new-token = New key { $new } replaces { $old }. Its token is below and is shown only this once: copy it to your servers now. { $old } keeps working until { $until }, then it is refused.
console-api-keys-not-found = There is no API key with this id. Reload the page and choose it from the list.
console-api-keys-not-working = Only a key that still works can be rotated or revoked. For a revoked or expired key, create a new one with `idlink apikey create`.
console-api-keys-already-rotated = This key was rotated already: its new key is { $next }. Rotate that one instead.
console-api-keys-bad-choice = Choose the overlap and the new key's life from the lists.

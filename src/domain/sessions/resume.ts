// The request a sign-in (or a required action) resumes when done: an OIDC interaction, a
// SAML request kept as a pending sign-in, or a portal page. Protocol-neutral data: each
// protocol builds its own kind, the flows carry it, and only its kind's owner reads it.
export type OidcResume = { kind: 'oidc'; uid: string; clientId: string };
export type SamlResume = { kind: 'saml'; pendingId: string; spId: string };
export type PortalResume = { kind: 'portal'; path: string };

export type Resume = OidcResume | SamlResume | PortalResume;

// XML namespaces the client speaks, one place, each with its specification.
export const NS = {
  CLIENT: 'jabber:client',
  ROSTER: 'jabber:iq:roster', // RFC 6121 §2
  DISCO_INFO: 'http://jabber.org/protocol/disco#info', // XEP-0030
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  DATA: 'jabber:x:data', // XEP-0004
  XDATA_VALIDATE: 'http://jabber.org/protocol/xdata-validate', // XEP-0122
  XDATA_LAYOUT: 'http://jabber.org/protocol/xdata-layout', // XEP-0141
  COMMANDS: 'http://jabber.org/protocol/commands', // XEP-0050
  RSM: 'http://jabber.org/protocol/rsm', // XEP-0059
  MAM: 'urn:xmpp:mam:2', // XEP-0313
  FORWARD: 'urn:xmpp:forward:0', // XEP-0297
  DELAY: 'urn:xmpp:delay', // XEP-0203
  CARBONS: 'urn:xmpp:carbons:2', // XEP-0280
  RECEIPTS: 'urn:xmpp:receipts', // XEP-0184
  MARKERS: 'urn:xmpp:chat-markers:0', // XEP-0333
  CHATSTATES: 'http://jabber.org/protocol/chatstates', // XEP-0085
  CORRECT: 'urn:xmpp:message-correct:0', // XEP-0308
  RETRACT: 'urn:xmpp:message-retract:1', // XEP-0424
  REPLY: 'urn:xmpp:reply:0', // XEP-0461
  FALLBACK: 'urn:xmpp:fallback:0', // XEP-0428
  REACTIONS: 'urn:xmpp:reactions:0', // XEP-0444
  HINTS: 'urn:xmpp:hints', // XEP-0334
  SID: 'urn:xmpp:sid:0', // XEP-0359
  OOB: 'jabber:x:oob', // XEP-0066
  UPLOAD: 'urn:xmpp:http:upload:0', // XEP-0363
  UPLOAD_AUTH: 'urn:aldis:upload:auth:0', // download tokens for labelled files (docs/modules/upload.md)
  MUC: 'http://jabber.org/protocol/muc', // XEP-0045
  MUC_USER: 'http://jabber.org/protocol/muc#user',
  MUC_OWNER: 'http://jabber.org/protocol/muc#owner',
  MUC_ADMIN: 'http://jabber.org/protocol/muc#admin',
  CONFERENCE: 'jabber:x:conference', // XEP-0249
  PUBSUB: 'http://jabber.org/protocol/pubsub', // XEP-0060
  PUBSUB_EVENT: 'http://jabber.org/protocol/pubsub#event',
  BOOKMARKS: 'urn:xmpp:bookmarks:1', // XEP-0402
  SECLABEL: 'urn:xmpp:sec-label:0', // XEP-0258
  SECLABEL_CATALOG: 'urn:xmpp:sec-label:catalog:2',
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas', // RFC 6120 §8.3
  VCARD: 'vcard-temp', // XEP-0054
  PING: 'urn:xmpp:ping',
  PIN: 'urn:aldis:pin:0', // pinned room messages, an Aldis extension (docs/modules/muc.md)
} as const;

// The node where XEP-0223 private preferences of this client are kept.
export const PREFS_NODE = 'urn:xmpp:aldis:web-prefs:0';

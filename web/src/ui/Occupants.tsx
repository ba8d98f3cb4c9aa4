// The occupants of a room grouped by role, with moderation actions for
// moderators (XEP-0045 §8: kick, voice) and admins (§9: ban, membership),
// and the invitation form.
import { useState } from 'preact/hooks';
import type { Client } from '../client';
import type { Room } from '../state/store';
import { isBareJid } from '../xmpp/jid';

const ROLES = ['moderator', 'participant', 'visitor'];

export function Occupants({ client, room }: { client: Client; room: Room }) {
  const [invitee, setInvitee] = useState('');
  const me = room.occupants[room.nick];
  const isMod = me?.role === 'moderator';
  const isAdmin = me?.affiliation === 'owner' || me?.affiliation === 'admin';
  const list = Object.values(room.occupants);
  return (
    <aside class="occupants" aria-label="Occupants">
      {ROLES.map((role) => {
        const people = list.filter((o) => o.role === role).sort((a, b) => a.nick.localeCompare(b.nick));
        if (people.length === 0) return null;
        return (
          <section key={role}>
            <h2>{role}s ({people.length})</h2>
            <ul>
              {people.map((o) => (
                <li key={o.nick} data-testid="occupant">
                  <span class="nick">{o.nick}</span>
                  {o.affiliation !== 'none' && <span class="aff">{o.affiliation}</span>}
                  {isMod && o.nick !== room.nick && (
                    <details class="mod">
                      <summary aria-label={`Moderate ${o.nick}`}>⋯</summary>
                      <button onClick={() => client.moderate(room.jid, { nick: o.nick, role: 'none' })}>Kick</button>
                      {o.role === 'visitor'
                        ? <button onClick={() => client.moderate(room.jid, { nick: o.nick, role: 'participant' })}>Grant voice</button>
                        : <button onClick={() => client.moderate(room.jid, { nick: o.nick, role: 'visitor' })}>Revoke voice</button>}
                      {isAdmin && o.jid && <button onClick={() => client.moderate(room.jid, { jid: o.jid!.split('/')[0], affiliation: 'outcast' })}>Ban</button>}
                      {isAdmin && o.jid && o.affiliation === 'none' && <button onClick={() => client.moderate(room.jid, { jid: o.jid!.split('/')[0], affiliation: 'member' })}>Make member</button>}
                    </details>
                  )}
                </li>
              ))}
            </ul>
          </section>
        );
      })}
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); if (isBareJid(invitee.trim())) { client.invite(room.jid, invitee.trim(), ''); setInvitee(''); client.notice(`Invited ${invitee.trim()}`); } }}>
        <input aria-label="Invite someone" placeholder="Invite name@example.org" value={invitee} data-testid="invite-jid"
          onInput={(e) => setInvitee((e.target as HTMLInputElement).value)} />
        <button type="submit">Invite</button>
      </form>
    </aside>
  );
}

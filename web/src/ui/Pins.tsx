// The pinned bar at the top of a room (urn:aldis:pin:0): the room's pins,
// newest first; a click scrolls to the message, fetching it from the
// room's archive first when it is older than the loaded history.
import type { Client } from '../client';
import type { ChatMessage, Conversation } from '../state/chat';
import type { Room } from '../state/store';
import { Icon } from './Icon';

export function pinnedMessage(conv: Conversation, id: string): ChatMessage | null {
  return conv.messages.find((m) => m.stanzaId === id || m.id === id) || null;
}

export function PinnedBar(p: { client: Client; room: Room; conv: Conversation; canPin: boolean; onJump: (id: string) => void }) {
  const { room, conv } = p;
  if (room.pins.length === 0) return null;
  const pins = [...room.pins].reverse();
  return (
    <div class="pinned-bar" role="region" aria-label="Pinned messages" data-testid="pinned-bar">
      <span class="pinned-title"><Icon name="pin" /> {room.pins.length} pinned</span>
      <ul>
        {pins.map((pin) => {
          const m = pinnedMessage(conv, pin.id);
          const what = !m ? 'Message not loaded' : m.retracted ? 'Retracted message' : `${m.author}: ${m.body.slice(0, 100)}`;
          return (
            <li key={pin.id} data-testid="pinned" data-id={pin.id}>
              <button class="link" title={`Pinned by ${pin.by || 'a moderator'}${pin.at ? ' on ' + new Date(pin.at).toLocaleString() : ''}`}
                onClick={() => p.onJump(pin.id)}>{what}</button>
              {p.canPin && (
                <button class="icon small" aria-label="Unpin" data-testid="pinned-unpin"
                  onClick={() => { if (m) p.client.pin(conv.jid, m, false); else void p.client.unpinId(conv.jid, pin.id); }}>
                  <Icon name="close" />
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

// Subscribe a component tree to the client's store.
import { useEffect, useState } from 'preact/hooks';
import type { Client } from '../client';
import type { AppState } from '../state/store';

export function useAppState(client: Client): AppState {
  const [s, setS] = useState(client.store.get());
  useEffect(() => client.store.subscribe(setS), [client]);
  return s;
}

/**
 * The edge's core: owns the shared state (transaction and dialog tables, transports) and wires the three parts of
 * the SIP path to it: inbound (network → edge) and outbound (app → edge), both using in-dialog, which uses the state.
 * Nothing here handles a message; the parts never call back up into this file or into each other sideways.
 */
import type { Logger } from 'pino';
import type { Transports } from './transport.js';
import type { WireServer } from './wire/server.js';
import type { SipTimers } from './timers.js';
import { EdgeState } from './state.js';
import { InDialog } from './in-dialog.js';
import { Inbound, type DoorOptions } from './inbound.js';
import { Outbound } from './outbound.js';

export class EdgeCore {
  readonly state: EdgeState;
  readonly inDialog: InDialog;
  /** The transports' handler: every datagram, TCP connection and message from the network. */
  readonly inbound: Inbound;
  /** The control port's handler: every `sip` / `proxy` frame from an app, and an app leaving. */
  readonly outbound: Outbound;

  constructor(host: string, transports: Transports, timers: SipTimers, log: Logger, door: DoorOptions) {
    this.state = new EdgeState(host, transports, timers, log);
    this.inDialog = new InDialog(this.state);
    this.inbound = new Inbound(this.state, this.inDialog, door);
    this.outbound = new Outbound(this.state, this.inDialog);
  }

  /** The control port, once made: new requests from the network go to the apps connected there. */
  attach(wire: WireServer): void { this.state.wire = wire; }

  stats(): { dialogs: number; serverTransactions: number; clientTransactions: number } {
    const s = this.state;
    return { dialogs: s.dialogs.size, serverTransactions: s.serverById.size, clientTransactions: s.clientById.size };
  }

  close(): void {
    const s = this.state;
    for (const t of s.serverById.values()) t.terminate();
    for (const t of s.clientById.values()) t.terminate();
    for (const d of s.dialogs.all()) s.dialogs.remove(d);
    s.routed.clear();
  }
}

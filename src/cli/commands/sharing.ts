/** share and unshare. `share` is the one command that ever prints a share token. */
import type { Command } from 'commander';
import { note, print, withStore } from '../context.js';

export function registerSharing(program: Command): void {
  program
    .command('share')
    .description("print the session's share token, creating one if needed (anyone holding it can read the session)")
    .argument('<id>', 'session id')
    .action(async (id: string, _opts: object, cmd: Command) => {
      const { token } = await withStore(cmd, (store) => store.shareSession(id));
      // Token alone on stdout so `$(threadloom share ID)` captures exactly it; the warning goes to stderr.
      print(token);
      note(`anyone with this token can read ${id}; revoke it with: threadloom unshare ${id}`);
    });

  program
    .command('unshare')
    .description("revoke the session's share token")
    .argument('<id>', 'session id')
    .action(async (id: string, _opts: object, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const wasShared = await store.isShared(id);
        await store.unshareSession(id);
        print(wasShared ? `unshared ${id}: its token no longer works` : `${id} was not shared`);
      });
    });
}

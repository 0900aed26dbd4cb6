/**
 * The conformance suite against PostgreSQL: a fresh schema per run in the database at THREADLOOM_PG_URL
 * (default postgres://postgres@127.0.0.1:5432/test). The concurrency cases run as separate OS processes
 * (recipe kind 'url'); raw reads go straight to the events table with their own client.
 */
import { openStore } from '../src/index.js';
import { testDriver } from './conformance/suite.js';
import { PG_URL, dropSchema, freshSchema, rawClient, rawEvents, requirePostgres } from './helpers/pg.js';

if (await requirePostgres()) {
  testDriver({
    name: 'postgres',
    async open() {
      const url = PG_URL;
      const schema = freshSchema();
      const store = openStore({ url, schema });
      const raw = await rawClient(url);
      return {
        store,
        recipe: { kind: 'url', url, schema },
        rawEvents: (id: string) => rawEvents(raw, schema, id),
        reopen: () => openStore({ url, schema }),
        cleanup: async () => {
          await store.close();
          try {
            await dropSchema(raw, schema);
          } finally {
            await raw.end();
          }
        },
      };
    },
  });
}

/** Whether PostgreSQL answers at a URL (shared by the tests and the chaos campaign). */
import pg from 'pg';

/** Null when PostgreSQL answers at `url`, else why not. */
export async function pgUnreachable(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return (err as Error).message || (err as { code?: string }).code || 'unknown error';
  } finally {
    await client.end().catch(() => undefined);
  }
}

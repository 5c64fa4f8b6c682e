import { mkdirSync } from 'node:fs';

/**
 * The embedded database of a first try (DESIGN.md, Defaults): PGlite (real PostgreSQL compiled
 * to WebAssembly) in this process, under the state folder, served on a loopback port so the rest
 * of bai talks to it with the same `pg` driver as to a server.
 *
 * PGlite is a single session: its socket server multiplexes connections at the query level, so
 * two connections would share one transaction. Callers must use a pool of exactly one
 * connection (EMBEDDED_POOL).
 */
export interface EmbeddedPostgres {
  url: string;
  close(): Promise<void>;
}

export const EMBEDDED_POOL = { min: 0, max: 1 } as const;

export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  // Imported here, not at the top: only a process that runs the embedded database loads PGlite.
  const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite-socket'),
  ]);
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections: 4 });
  await server.start();
  let closed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    async close() {
      if (closed) return;
      closed = true;
      await server.stop();
      await db.close();
    },
  };
}

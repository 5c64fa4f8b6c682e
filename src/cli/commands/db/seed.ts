import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { withDb } from '../../db-access.js';
import { migrateLatest } from '../../../persistence/db.js';
import { seedDefaults } from '../../../persistence/seed.js';

export class DbSeedCommand extends BaseCommand {
  static override paths = [['db', 'seed']];
  static override usage = Command.Usage({
    category: 'Database',
    description: 'Create the defaults: domain, scaling group, resource policy, admin keypair, python alias',
    details: 'Prints the admin keypair; run again and it prints the existing one.',
    examples: [['Seed', 'DATABASE_URL=postgres://... $0 db seed --json']],
  });

  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    await withDb(this.context.env, async (db) => {
      await migrateLatest(db);
      const r = await seedDefaults(db);
      if (this.json) this.output.json(r);
      else this.output.line(`admin access key: ${r.accessKey}\nadmin secret key: ${r.secretKey}`);
    });
  }
}

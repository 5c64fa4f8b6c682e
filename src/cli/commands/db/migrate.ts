import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { withDb } from '../../db-access.js';
import { migrateLatest, migrateRollbackAll } from '../../../persistence/db.js';

export class DbMigrateCommand extends BaseCommand {
  static override paths = [['db', 'migrate']];
  static override usage = Command.Usage({
    category: 'Database',
    description: 'Apply the schema migrations (DATABASE_URL, or the embedded database of the state folder)',
    examples: [
      ['Migrate', 'DATABASE_URL=postgres://... $0 db migrate'],
      ['Undo all', '$0 db migrate --rollback-all'],
    ],
  });

  rollbackAll = Option.Boolean('--rollback-all', false, { description: 'Roll every migration back' });

  json = Option.Boolean('--json', false, { description: 'Print {"applied": [...]} or {"rolledBack": true}' });

  async run(): Promise<void> {
    await withDb(this.context.env, async (db) => {
      if (this.rollbackAll) {
        await migrateRollbackAll(db);
        if (this.json) this.output.json({ rolledBack: true });
        else this.output.line('rolled back');
        return;
      }
      const applied = await migrateLatest(db);
      if (this.json) this.output.json({ applied });
      else this.output.line(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'already up to date');
    });
  }
}

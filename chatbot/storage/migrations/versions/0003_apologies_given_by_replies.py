"""apologies given by thread replies can be taken back: which reply gave them, and what the person
said by command

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('by_command', sqlmodel.sql.sqltypes.AutoString(),
                                      nullable=False, server_default=''))
    with op.batch_alter_table('update', schema=None) as batch_op:
        batch_op.add_column(sa.Column('apologies', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    # Older rows cannot tell a reply's apologies from a command's: they stay, as they did before.
    attendance = sa.table('attendance', sa.column('status', sa.String), sa.column('by_command', sa.String))
    op.execute(attendance.update().values(by_command=attendance.c.status))
    update = sa.table('update', sa.column('kind', sa.String), sa.column('apologies', sa.Boolean))
    op.execute(update.update().where(update.c.kind == 'apologies').values(apologies=True))


def downgrade() -> None:
    with op.batch_alter_table('update', schema=None) as batch_op:
        batch_op.drop_column('apologies')
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_column('by_command')

/* The migrations compiled into the binary (generated from migrations/NNN_name.sql into
 * build/gen/migrations.c by scripts/embed-migrations.sh), and the migrate command. */
#ifndef FINREG_MIGRATIONS_H
#define FINREG_MIGRATIONS_H

#include "db/db.h"

struct embedded_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct embedded_migration embedded_migrations[];
extern const unsigned embedded_migrations_count;

/** Applies every pending migration in order, each in its own transaction, under an
 *  advisory lock so concurrent runs do not collide. *applied counts the new ones. */
enum db_rc db_migrate(unsigned *applied);

#endif

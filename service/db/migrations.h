/* The schema compiled into the binary (generated into build/gen/migrations.c by
 * scripts/embed-migrations.sh): migrations/NNN_name.sql (tables and data, applied once each)
 * and sql/NAME.sql (functions, triggers and views, one file per area, re-applied by every
 * migrate), and the migrate command. */
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

struct embedded_procedures {
	const char *name;
	const char *sql;
};

extern const struct embedded_procedures embedded_procedures[];
extern const unsigned embedded_procedures_count;

/** Applies every pending migration in order, each in its own transaction, then every
 *  sql/ file in name order in one transaction, under an advisory lock so concurrent runs
 *  do not collide. *applied counts the new migrations. */
enum db_rc db_migrate(unsigned *applied);

#endif

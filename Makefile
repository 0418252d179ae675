# pgetl — in-database ETL for PostgreSQL (PGXS build)
#
# The two commands a user needs (see README.md):
#   make demo    install dependencies, build, install, run customer_pipeline
#                on a throwaway cluster (SOURCE=path: on a Superstore export)
#   make test    same set-up, then the whole test suite on a throwaway cluster
#                of each supported PostgreSQL: 15 on this machine, 17 and 18
#                in Debian chroots under .matrix/ (test/setup/chroot.sh);
#                `make test PGVERS=15` runs one version only
#
# PGVER=NN builds against /usr/lib/postgresql/NN (default: pg_config on PATH).

EXTENSION = pgetl
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pgetl.control)
MODULE_big = pgetl

# src/graphviz.c is a module of its own (below), not part of pgetl.so.
OBJS = $(patsubst %.c,%.o,$(sort $(filter-out src/graphviz.c,$(wildcard src/*.c))))
# (headers are internal: none is installed)

# pgetl_graphviz.so: DOT to SVG with Graphviz, loaded only by the backends
# that draw an SVG (pgetl_graph(..., format => 'svg')), so that no other
# backend maps libgvc.  Its Graphviz plugins (dot layout, core SVG
# renderer) are linked in as built-in plugins, from Graphviz's plugin
# directory (libgraphviz-dev).
GRAPHVIZ_MODULE = pgetl_graphviz
GV_CFLAGS := $(shell pkg-config --cflags libgvc 2>/dev/null)
GV_LIBS := $(shell pkg-config --libs libgvc 2>/dev/null)
GV_PLUGINDIR := $(shell pkg-config --variable=libdir libgvc 2>/dev/null)/graphviz
# Graphviz 3.0 made gvRenderData's length a size_t (was unsigned int)
GV_MAJOR := $(firstword $(subst ., ,$(shell pkg-config --modversion libgvc 2>/dev/null)))

# The install script is assembled from one file per concern, in name order.
# Released install scripts are frozen in sql/ (never edited again); each
# release after them ships an upgrade script assembled from
# src/sql/upgrade/<from>--<to>/*.sql (test/upgrade/upgrade_test.sh).
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
# Install parts new in 0.2 apply unchanged as upgrade steps, after the
# steps that change 0.1's objects; 99_privileges.sql (idempotent) revokes
# PUBLIC's EXECUTE on the new internal functions as it does at install.
UPGRADE_PARTS = $(sort $(wildcard src/sql/upgrade/0.1--0.2/*.sql)) src/sql/35_apply.sql \
	src/sql/66_infer.sql src/sql/85_pictures_graph.sql src/sql/85_pictures_stats.sql \
	src/sql/86_report.sql src/sql/95_dump.sql src/sql/99_privileges.sql
DATA = sql/$(EXTENSION)--0.1.sql
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql sql/$(EXTENSION)--0.1--0.2.sql

REGRESS = $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%,$(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --outputdir=$(CURDIR)/test/results

PG_CPPFLAGS = -Isrc -DPGETL_VERSION=\"$(EXTVERSION)\"
# zlib inflates gzip-compressed load sources (src/load_source.c); the server
# itself links it (pg_config --libs)
SHLIB_LINK += -lz
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
	-Wno-missing-field-initializers -Wno-cast-function-type

EXTRA_CLEAN = test/results test/results-* $(GRAPHVIZ_MODULE)$(DLSUFFIX) src/graphviz.o

ifdef PGVER
PG_CONFIG ?= /usr/lib/postgresql/$(PGVER)/bin/pg_config
endif
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

# PGXS tracks no header dependencies: every object depends on every header.
$(OBJS): $(wildcard src/*.h)
src/pgetl.o: pgetl.control

src/graphviz.o: override CPPFLAGS += $(GV_CFLAGS) -DPGETL_GV_MAJOR=$(or $(GV_MAJOR),0)

$(GRAPHVIZ_MODULE)$(DLSUFFIX): src/graphviz.o
	$(CC) $(CFLAGS) $< $(LDFLAGS) $(LDFLAGS_SL) -shared -o $@ \
		-L$(GV_PLUGINDIR) -Wl,-rpath,$(GV_PLUGINDIR) \
		-lgvplugin_dot_layout -lgvplugin_core $(GV_LIBS)

all: $(GRAPHVIZ_MODULE)$(DLSUFFIX)

install: install-graphviz
install-graphviz: $(GRAPHVIZ_MODULE)$(DLSUFFIX) installdirs
	$(INSTALL_SHLIB) $(GRAPHVIZ_MODULE)$(DLSUFFIX) '$(DESTDIR)$(pkglibdir)/'

uninstall: uninstall-graphviz
uninstall-graphviz:
	rm -f '$(DESTDIR)$(pkglibdir)/$(GRAPHVIZ_MODULE)$(DLSUFFIX)'

sql/$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PARTS) pgetl.control
	cat $(SQL_PARTS) > $@

# "--@function NAME" lines of the upgrade steps become NAME's definition in
# the install parts (src/sql/upgrade/expand.pl)
sql/$(EXTENSION)--0.1--0.2.sql: $(UPGRADE_PARTS) $(SQL_PARTS) src/sql/upgrade/expand.pl
	perl src/sql/upgrade/expand.pl $(SQL_PARTS) -- $(UPGRADE_PARTS) > $@

# the versions `make test` runs the suite on
PGVERS ?= 15 17 18

.PHONY: deps demo test test-matrix bench docs-pictures install-graphviz uninstall-graphviz indent

deps:
	test/setup/deps.sh

# The test cluster loads pgetl from a private install (test/setup/cluster.sh).
demo: deps
	$(MAKE) all
	test/setup/demo.sh $(SOURCE)

# The pictures of README.md: the demo run's DAG and Gantt chart.
docs-pictures: deps
	$(MAKE) all
	DEMO_OUT=$(CURDIR)/test/results/docs test/setup/demo.sh
	cp test/results/docs/dag.svg test/results/docs/gantt.svg .docs/

test: deps
	test/setup/deps.sh --test $(if $(filter-out 15,$(PGVERS)),--matrix)
	test/matrix.sh $(PGVERS)

test-matrix:
	$(MAKE) test PGVERS="15 17 18"

# PostgreSQL's layout for the C sources (pg_bsd_indent with pgindent's
# settings; test/setup/indent.sh); the suite checks it (test/style)
indent: all
	test/setup/indent.sh

bench: deps
	test/setup/deps.sh --bench
	$(MAKE) all
	test/bench/run.sh

-- pgetl upgrade 0.1 -> 0.2, assembled by the Makefile from
-- src/sql/upgrade/0.1--0.2/*.sql in name order.  Each install-SQL change
-- of 0.2 (src/sql/*.sql) has its step here, in a file named after its
-- concern; test/upgrade/upgrade_test.sh checks that an upgraded database
-- has exactly the objects of a fresh install.

\echo Use "ALTER EXTENSION pgetl UPDATE TO '0.2'" to load this file. \quit

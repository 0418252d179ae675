#!/usr/bin/perl
# Assemble an upgrade script: print the upgrade step files given after "--",
# replacing each line "--@function NAME" by the definition of function NAME
# as the install parts given before "--" create it now (as CREATE OR
# REPLACE), and each line "--@create NAME" by that definition as it is (a
# function new in the release, or one dropped just before to change its
# signature); "--@view NAME" prints the install parts' CREATE VIEW NAME as
# it is, followed by their COMMENT ON VIEW NAME and a GRANT SELECT ON NAME
# to each role their GRANT SELECT statements name for it (the step drops
# the view first; 0.1--0.2/98_views.sql is the one step that creates views,
# after every step that adds what they read); "--@comment NAME" prints the
# install parts' COMMENT ON FUNCTION NAME(...) (so a step that changes a
# signature need not copy its argument types).
# So an upgrade step that only brings a function to its new body names it
# instead of copying it, and the install part stays its one source of truth
# (until the release, when the assembled upgrade script is frozen).
#   perl expand.pl INSTALL_PART... -- UPGRADE_PART...
use strict;
use warnings;

my (@install, @upgrade, $sep);
for (@ARGV) { if ($_ eq '--') { $sep = 1; next; } push @{ $sep ? \@upgrade : \@install }, $_; }

# NAME -> definition, for every "CREATE FUNCTION NAME(" of the install parts:
# up to the line "$$;" of a body in $$ quotes, else up to the first ";" at
# the end of a line
my %def;
my %seen;
my %grants;    # view NAME -> the roles granted SELECT on it, in order
for my $f (@install) {
    open my $in, '<', $f or die "$f: $!";
    my ($name, $text, $dollar);
    while (my $line = <$in>) {
        if (!defined $name && $line =~ /^CREATE FUNCTION (\S+?)\(/) {
            ($name, $text, $dollar) = ($1, '', 0);
        } elsif (!defined $name && $line =~ /^CREATE VIEW (\S+) /) {
            ($name, $text, $dollar) = ("view:$1", '', 0);
        }
        if (!defined $name && $line =~ /^COMMENT ON FUNCTION (\S+?)\(/) {
            ($name, $text, $dollar) = ("comment:$1", '', 0);
        } elsif (!defined $name && $line =~ /^COMMENT ON VIEW (\S+) /) {
            ($name, $text, $dollar) = ("viewcomment:$1", '', 0);
        }
        if (!defined $name && $line =~ /^GRANT SELECT ON (.+?) TO (\S+);\s*$/) {
            my ($objs, $role) = ($1, $2);
            push @{ $grants{$_} }, $role for split /,\s*/, $objs;
            next;
        }
        next unless defined $name;
        $text .= $line;
        $dollar = 1 if $line =~ /\bAS \$\$/ || $line =~ /\$\$\s*$/;
        if (($dollar && $line =~ /^\$\$;\s*$/) || (!$dollar && $line =~ /;\s*$/)) {
            $seen{$name}++;
            $def{$name} = $text;
            undef $name;
        }
    }
    close $in;
}

for my $f (@upgrade) {
    open my $in, '<', $f or die "$f: $!";
    while (my $line = <$in>) {
        if ($line =~ /^--\@(function|create|view|comment) (\S+)\s*$/) {
            my ($how, $name) = ($1, $2);
            $name = "$how:$name" if $how eq 'view' || $how eq 'comment';
            die "$f: no install part creates (or comments) $name\n" unless $def{$name};
            die "$f: function $name is created more than once; copy its definition\n" if $seen{$name} > 1;
            my $d = $def{$name};
            $d =~ s/^CREATE FUNCTION /CREATE OR REPLACE FUNCTION / if $how eq 'function';
            print $d;
            if ($how eq 'view') {
                my $v = substr($name, length 'view:');
                print $def{"viewcomment:$v"} if $def{"viewcomment:$v"};
                print "GRANT SELECT ON $v TO $_;\n" for @{ $grants{$v} || [] };
            }
        } else {
            print $line;
        }
    }
    close $in;
}

/*-------------------------------------------------------------------------
 *
 * load_source.c
 *	  The CSV source of a load: a server file or staged data, fed to
 *	  PostgreSQL's own COPY parser through a data source callback.
 *
 * The callback lets pgetl decide what is read (a regular file opened
 * without blocking, or staged chunks read in slices; either one may be
 * gzip-compressed, recognized by its magic bytes and inflated with zlib)
 * and fix two things COPY does differently from plain CSV: a UTF-8 byte
 * order mark is dropped (when the encoding is UTF8), and a line consisting
 * of \. -- COPY's end-of-data marker -- is passed on as the quoted field
 * "\.", so that it loads as data.  The filter reads the bytes in the
 * source's encoding: in the encodings whose multibyte characters may
 * contain ASCII bytes (SJIS, BIG5, GBK, UHC, GB18030, JOHAB), a character
 * is taken whole (pg_encoding_mblen), so that a trailing byte 0x5C is never
 * taken for a backslash or an escape.
 *
 * Physical line numbers are counted here: a record starts on the line after
 * the previous record's last line, and spans as many lines as it has line
 * breaks (inside quotes too).  The filter also counts the line breaks of the
 * whole input and remembers whether it ends with one, which tells the last
 * record that lacks a line terminator.
 *
 * Why a filter in front of COPY's lexer rather than COPY's lexer alone:
 * COPY has no hook between reading bytes and splitting them, and in three
 * ways it reads CSV differently from plain CSV: a line \. ends the data
 * (through PostgreSQL 17), which would end a load silently in the middle
 * of a file; a UTF-8 byte order mark stays in the first field; and the
 * record it hands back (line_buf) has lost its line terminator, so a last
 * record without one cannot be told.  The filter follows quotes, escapes
 * and line breaks only, and copies runs of other bytes with memcpy.  Measured
 * 2026-12-02 on 17 (300,000-row purchases CSV, six rules, serial load, 11
 * interleaved pairs, load average 5.9-6.4 on 2 cores): a load took 1.10x
 * the backend CPU (median; wall 0.98x) of the same load with the filter
 * replaced by a plain copy (a temporary build).  On 18 COPY loads a line
 * \. as data; the filter's quoting of it changes nothing there.  The
 * record's raw text and the bytes read so far are read from the
 * CopyFromState (line_buf, bytes_processed), through
 * commands/copyfrom_internal.h: the same fields on 15 to 18.
 *
 * Staged data (pgetl_stage) is kept as the rows of pgetl.stage_chunk, one
 * per call, uncompressed out of line (STORAGE EXTERNAL), and read in
 * slices of LOAD_READ_SIZE by substring(), which fetches only the TOAST
 * chunks of the slice: memory stays flat whatever the size.  One bytea per
 * stage could not be appended to without being rewritten, nor exceed 1 GB;
 * large objects have privileges, owners and a life (vacuumlo) of their own,
 * outside pgetl's tables and its owner checks.  Measured as above: a staged
 * load took 1.11x the backend CPU (median; wall 1.07x) of the same bytes
 * read from a server file.
 *
 *-------------------------------------------------------------------------
 */
#include "load.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/copyfrom_internal.h"
#include "commands/progress.h"
#include "utils/backend_status.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "common/hashfn.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "util.h"

#define LOAD_READ_SIZE 65536
#define LOAD_STAGE_SLICE (1024 * 1024)

struct LoadSource
{
	char	   *source;			/* as given */
	bool		staged;
	/* server file */
	char	   *path;			/* resolved */
	int			fd;
	/* staged data */
	int64		stage_id;
	int			nchunks;
	int64	   *chunk_len;
	int			chunk;			/* current chunk, 0-based */
	int64		chunk_off;		/* bytes of it already read */
	int64		size;			/* total bytes (compressed, for gzip) */
	TimestampTz mtime;			/* server file: modification time */
	/* in memory (the records of a replay) */
	const char *mem;
	int64		mem_len;
	int64		mem_off;

	/* gzip: the raw bytes are inflated before the filter sees them */
	bool		checked;		/* magic bytes looked at */
	bool		gzip;
	z_stream	zs;
	bool		member_end;		/* a gzip member ended (another may follow) */
	bool		raw_eof;
	char	   *zin;			/* raw bytes read, not yet consumed */
	int			zin_len;		/* (plain input: peeked bytes zin[zin_pos..]) */
	int			zin_pos;

	/* filter state */
	int			encoding;		/* of the source */
	bool		mb_aware;		/* multibyte characters may embed ASCII */
	bool		started;		/* BOM checked */
	bool		in_quote;
	bool		escaped;		/* previous byte was an escape inside quotes */
	bool		line_start;
	bool		eof;
	char		quote;
	char		escape;
	bool		special[256];	/* bytes that may change the filter's state */
	char	   *carry;			/* undecided bytes from the last read */
	int			carry_len;
	char	   *out;			/* filtered bytes not yet handed to COPY */
	int			out_len;
	int			out_pos;
	char	   *in;				/* read buffer */
	int64		breaks;			/* line breaks in the input so far */
	bool		prev_cr;		/* the last byte filtered was \r */
	bool		ends_unbroken;	/* the last byte filtered is not a line break */

	/* lines */
	int64		next_line;		/* physical line of the next record */
	int64		cur_line;		/* physical line of the current record */
	int64		records;
	bool		keep_blank;		/* a blank line is a record (one column) */
};

/* The source being read by the COPY callback (one load at a time). */
static LoadSource *current_source = NULL;

/*
 * pgetl_file_exists(path text) returns boolean - whether a file (or a
 * directory) exists on the database server at path, for sensors waiting
 * for a file (Airflow's FileSensor).  A relative path is relative to the
 * data directory, as COPY's.  It runs as the caller, with the check loads
 * of server files make: the caller needs the privileges of
 * pg_read_server_files (42501 otherwise).  A path that does not exist, or
 * whose directory is not one, gives false; any other failure of stat()
 * (e.g. a directory the server may not search) is an error.  STRICT: NULL
 * gives NULL.
 */
PG_FUNCTION_INFO_V1(pgetl_file_exists);
Datum
pgetl_file_exists(PG_FUNCTION_ARGS)
{
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	struct stat st;

	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to look for server file \"%s\"", path),
				 errdetail("Only superusers and members of pg_read_server_files can look for server files, as they can load them."),
				 errhint("Ask for GRANT pg_read_server_files; a sensor runs as its pipeline's owner, who needs it.")));
	if (stat(path, &st) == 0)
		PG_RETURN_BOOL(true);
	if (errno == ENOENT || errno == ENOTDIR)
		PG_RETURN_BOOL(false);
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not stat file \"%s\": %m", path)));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * open_server_file - check that the caller may read server files, resolve
 * the path and open it, refusing anything but a regular file.  The file is
 * opened without blocking (a FIFO with no writer would wait forever), then
 * checked with fstat on the open descriptor, so that what is checked is
 * what is read.  The descriptor is a transient file of the transaction.
 */
static void
open_server_file(LoadSource *src)
{
	char	   *resolved;
	struct stat st;
	int			flags;

	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load server file \"%s\"", src->source),
				 errdetail("Only superusers and members of pg_read_server_files can load server files."),
				 errhint("Stage the data with pgetl_stage(name, data) and load it by name, "
						 "or ask for GRANT pg_read_server_files.")));
	resolved = realpath(src->source, NULL);
	if (resolved == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", src->source)));
	src->path = pstrdup(resolved);
	free(resolved);
	src->fd = OpenTransientFile(src->path, O_RDONLY | O_NONBLOCK | PG_BINARY);
	if (src->fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\" for reading: %m", src->path)));
	if (fstat(src->fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat file \"%s\": %m", src->path)));
	if (S_ISDIR(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a directory", src->path),
				 errhint("Give the path of a CSV file.")));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a regular file", src->path),
				 errdetail("pgetl loads regular files only, not FIFOs, sockets or devices.")));
	flags = fcntl(src->fd, F_GETFL);
	if (flags < 0 || fcntl(src->fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not set file \"%s\" to blocking mode: %m", src->path)));
	src->size = st.st_size;
	src->mtime = time_t_to_timestamptz(st.st_mtim.tv_sec) + st.st_mtim.tv_nsec / 1000;
}

/*
 * open_stage - find staged data the caller may read (as the extension
 * owner), and the length of each of its chunks.  Needs an SPI connection.
 */
static void
open_stage(LoadSource *src)
{
	Oid			types[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	bool		nulls[2] = {false, false};
	PgetlUserSwitch sw;
	bool		isnull;

	values[0] = ObjectIdGetDatum(GetUserId());
	values[1] = CStringGetTextDatum(src->source);
	/* errors of _stage_for keep their SQLSTATE; see pgetl_call_internal_args */
	src->stage_id = DatumGetInt64(pgetl_call_internal_args("_stage_id", 2, types, values,
														   nulls, INT8OID, &isnull));
	pgetl_become_owner(&sw);
	types[0] = INT8OID;
	values[0] = Int64GetDatum(src->stage_id);
	if (SPI_execute_with_args("SELECT octet_length(data)::bigint FROM pgetl.stage_chunk "
							  "WHERE stage_id = $1 ORDER BY chunk_no",
							  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the chunks of staged data \"%s\"", src->source);
	pgetl_restore_user(&sw);
	src->nchunks = SPI_processed;
	src->chunk_len = palloc(sizeof(int64) * (src->nchunks + 1));
	for (int i = 0; i < src->nchunks; i++)
	{
		src->chunk_len[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 1, &isnull));
		src->size += src->chunk_len[i];
	}
}

/*
 * load_source_open - resolve a load's source: an absolute server path when
 * it starts with '/', else the name of staged data.  Checks privileges and
 * opens it; the caller must be connected to SPI.  Allocated in the current
 * memory context.
 */
LoadSource *
load_source_open(const char *source, const char *load_name)
{
	LoadSource *src = palloc0(sizeof(LoadSource));

	if (source == NULL || source[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source of load \"%s\" must not be empty", load_name),
				 errhint("Give an absolute server path (starting with /) or the name of staged data.")));
	src->source = pstrdup(source);
	src->fd = -1;
	src->staged = source[0] != '/';
	if (src->staged)
		open_stage(src);
	else
		open_server_file(src);
	src->in = palloc(LOAD_READ_SIZE);
	src->carry = palloc(8);
	src->next_line = 1;
	return src;
}

bool
load_source_is_staged(LoadSource *src)
{
	return src->staged;
}

/*
 * read_raw - read up to len bytes from the file or the staged chunks; 0 at
 * the end.
 */
static int
read_raw(LoadSource *src, char *buf, int len)
{
	if (src->mem)
	{
		int			n = (int) Min((int64) len, src->mem_len - src->mem_off);

		memcpy(buf, src->mem + src->mem_off, n);
		src->mem_off += n;
		return n;
	}
	if (!src->staged)
	{
		int			n;

		for (;;)
		{
			n = read(src->fd, buf, len);
			if (n >= 0)
				return n;
			if (errno != EINTR)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not read file \"%s\": %m", src->path)));
			CHECK_FOR_INTERRUPTS();
		}
	}
	while (src->chunk < src->nchunks && src->chunk_off >= src->chunk_len[src->chunk])
	{
		src->chunk++;
		src->chunk_off = 0;
	}
	if (src->chunk >= src->nchunks)
		return 0;
	{
		Oid			types[3] = {INT8OID, INT4OID, INT8OID};
		Datum		values[3];
		PgetlUserSwitch sw;
		bool		isnull;
		Datum		d;
		bytea	   *slice;
		int			n;
		int64		want = Min((int64) len, src->chunk_len[src->chunk] - src->chunk_off);

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		values[0] = Int64GetDatum(src->stage_id);
		values[1] = Int32GetDatum(src->chunk + 1);
		values[2] = Int64GetDatum(src->chunk_off + 1);
		pgetl_become_owner(&sw);
		if (SPI_execute_with_args(psprintf("SELECT substring(data FROM $3::integer FOR %d) "
										   "FROM pgetl.stage_chunk "
										   "WHERE stage_id = $1 AND chunk_no = $2", (int) want),
								  3, types, values, NULL, true, 1) != SPI_OK_SELECT ||
			SPI_processed != 1)
			elog(ERROR, "staged data \"%s\" changed while it was loaded", src->source);
		pgetl_restore_user(&sw);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		slice = DatumGetByteaPP(d);
		n = VARSIZE_ANY_EXHDR(slice);
		memcpy(buf, VARDATA_ANY(slice), n);
		SPI_finish();
		src->chunk_off += n;
		return n;
	}
}

/* zlib allocates in the load's memory, freed with it even on error */
static voidpf
load_zalloc(voidpf opaque, uInt items, uInt size)
{
	return MemoryContextAlloc((MemoryContext) opaque, (Size) items * size);
}

static void
load_zfree(voidpf opaque, voidpf address)
{
	pfree(address);
}

/*
 * gzip_error - a gzip stream that cannot be inflated fails the load
 * (22P04, as other malformed input does).
 */
static void
gzip_error(LoadSource *src, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_BAD_COPY_FILE_FORMAT),
			 errmsg("could not decompress gzip source \"%s\": %s", src->source, what),
			 errdetail("The source starts with the gzip magic bytes (1f 8b), so it is read as gzip-compressed data."),
			 errhint("Check the file, e.g. with gzip -t.")));
}

/*
 * load_source_check_gzip - read the first two bytes of the source (kept for
 * the first read) and tell whether it is gzip-compressed; if so, set up
 * zlib to inflate it (gzip format only, members one after the other as
 * gzip writes them).  The source's name does not matter.
 */
static void
load_source_check_gzip(LoadSource *src)
{
	int			rc;

	src->zin = palloc(LOAD_READ_SIZE);
	while (src->zin_len < 2)
	{
		int			n = read_raw(src, src->zin + src->zin_len, LOAD_READ_SIZE - src->zin_len);

		if (n == 0)
		{
			src->raw_eof = true;
			break;
		}
		src->zin_len += n;
		CHECK_FOR_INTERRUPTS();
	}
	src->checked = true;
	src->gzip = src->zin_len >= 2 && (unsigned char) src->zin[0] == 0x1f &&
		(unsigned char) src->zin[1] == 0x8b;
	if (!src->gzip)
		return;
	memset(&src->zs, 0, sizeof(src->zs));
	src->zs.zalloc = load_zalloc;
	src->zs.zfree = load_zfree;
	src->zs.opaque = (voidpf) CurrentMemoryContext;
	src->zs.next_in = (Bytef *) src->zin;
	src->zs.avail_in = src->zin_len;
	rc = inflateInit2(&src->zs, 15 + 16);	/* gzip wrapper only */
	if (rc != Z_OK)
		elog(ERROR, "could not initialize zlib: %s", src->zs.msg ? src->zs.msg : "unknown error");
}

/*
 * read_input - up to len bytes of the source's content (inflated when it is
 * gzip-compressed); 0 at the end.  A corrupt or truncated gzip stream fails
 * the load.
 */
static int
read_input(LoadSource *src, char *buf, int len)
{
	z_stream   *zs = &src->zs;

	if (!src->checked)
		load_source_check_gzip(src);
	if (!src->gzip)
	{
		if (src->zin_pos < src->zin_len)
		{
			int			n = Min(len, src->zin_len - src->zin_pos);

			memcpy(buf, src->zin + src->zin_pos, n);
			src->zin_pos += n;
			return n;
		}
		return src->raw_eof ? 0 : read_raw(src, buf, len);
	}
	zs->next_out = (Bytef *) buf;
	zs->avail_out = len;
	while (zs->avail_out == (uInt) len)
	{
		int			rc;

		CHECK_FOR_INTERRUPTS();
		if (zs->avail_in == 0 && !src->raw_eof)
		{
			int			n = read_raw(src, src->zin, LOAD_READ_SIZE);

			if (n == 0)
				src->raw_eof = true;
			zs->next_in = (Bytef *) src->zin;
			zs->avail_in = n;
		}
		if (src->member_end)
		{
			if (zs->avail_in == 0)
			{
				if (src->raw_eof)
					break;		/* the end of the last member */
				continue;
			}
			/* another member follows (files concatenated by gzip) */
			if (inflateReset(zs) != Z_OK)
				gzip_error(src, "could not start its next member");
			src->member_end = false;
		}
		rc = inflate(zs, Z_NO_FLUSH);
		if (rc == Z_STREAM_END)
			src->member_end = true;
		else if (rc == Z_BUF_ERROR || (rc == Z_OK && zs->avail_in == 0 && src->raw_eof &&
									   zs->avail_out == (uInt) len))
		{
			if (zs->avail_in == 0 && src->raw_eof)
				gzip_error(src, "unexpected end of compressed data");
		}
		else if (rc != Z_OK)
			gzip_error(src, zs->msg ? zs->msg : "invalid compressed data");
	}
	return len - zs->avail_out;
}

/*
 * filter - append the bytes in[0..n) to src->out, dropping a leading UTF-8
 * BOM (UTF8 sources only) and quoting a \. line outside quotes, and count
 * the line breaks.  Bytes that cannot be decided yet (a \ at a line start
 * near the end of the buffer, an incomplete multibyte character) are kept
 * in carry unless at_eof.
 */
static void
filter(LoadSource *src, const char *in, int n, bool at_eof)
{
	int			i = 0;

	if (!src->started)
	{
		if (n < 3 && !at_eof)
		{
			memcpy(src->carry, in, n);
			src->carry_len = n;
			return;
		}
		src->started = true;
		src->line_start = true;
		if (src->encoding == PG_UTF8 && n >= 3 && (unsigned char) in[0] == 0xEF &&
			(unsigned char) in[1] == 0xBB && (unsigned char) in[2] == 0xBF)
			i = 3;
	}
	for (; i < n; i++)
	{
		char		c;

		/*
		 * Copy a run of bytes that change nothing (not at a line start, not
		 * after an escape, no quote, escape, backslash or line break, no
		 * multibyte character that may embed one) at once; the rest goes
		 * through the state machine below.
		 */
		if (!src->line_start && !src->escaped)
		{
			int			j = i;

			while (j < n && !src->special[(unsigned char) in[j]])
				j++;
			if (j > i)
			{
				memcpy(src->out + src->out_len, in + i, j - i);
				src->out_len += j - i;
				src->prev_cr = false;
				src->ends_unbroken = true;
				i = j;
				if (i >= n)
					break;
			}
		}
		c = in[i];

		/* a whole multibyte character: none of its bytes is ASCII syntax */
		if (src->mb_aware && IS_HIGHBIT_SET(c))
		{
			int			len;

			if (i + 1 >= n && !at_eof)
				len = 2;		/* the length may depend on the next byte */
			else if (i + 1 >= n)
				len = 1;
			else
				len = pg_encoding_mblen(src->encoding, in + i);
			if (i + len > n)
			{
				if (!at_eof)
				{
					src->carry_len = n - i;
					memcpy(src->carry, in + i, src->carry_len);
					return;
				}
				len = n - i;	/* incomplete: COPY reports the bad encoding */
			}
			memcpy(src->out + src->out_len, in + i, len);
			src->out_len += len;
			i += len - 1;
			src->line_start = false;
			src->escaped = false;
			src->prev_cr = false;
			src->ends_unbroken = true;
			continue;
		}

		if (src->line_start && !src->in_quote && c == '\\')
		{
			if (i + 2 >= n && !at_eof)
			{
				/* need the bytes after it */
				src->carry_len = n - i;
				memcpy(src->carry, in + i, src->carry_len);
				return;
			}
			if (i + 1 < n && in[i + 1] == '.' &&
				(i + 2 == n || in[i + 2] == '\n' || in[i + 2] == '\r'))
			{
				src->out[src->out_len++] = src->quote;
				src->out[src->out_len++] = '\\';
				src->out[src->out_len++] = '.';
				src->out[src->out_len++] = src->quote;
				i++;
				src->line_start = false;
				src->prev_cr = false;
				src->ends_unbroken = true;
				continue;
			}
		}
		src->line_start = false;
		if (src->in_quote)
		{
			if (src->escaped)
				src->escaped = false;
			else if (c == src->escape && src->escape != src->quote)
				src->escaped = true;
			else if (c == src->quote)
				src->in_quote = false;
		}
		else if (c == src->quote)
			src->in_quote = true;
		else if (c == '\n' || c == '\r')
			src->line_start = true;
		/* physical lines, quoted or not: \n, \r\n and a lone \r each end one */
		if (c == '\r' || (c == '\n' && !src->prev_cr))
			src->breaks++;
		src->prev_cr = c == '\r';
		src->ends_unbroken = c != '\n' && c != '\r';
		src->out[src->out_len++] = c;
	}
	src->carry_len = 0;
}

/*
 * source_callback - COPY's data source: hands over filtered bytes, at least
 * minread unless at the end.
 */
static int
source_callback(void *outbuf, int minread, int maxread)
{
	LoadSource *src = current_source;
	int			given = 0;

	while (given < minread)
	{
		int			n;

		if (src->out_pos < src->out_len)
		{
			n = Min(maxread - given, src->out_len - src->out_pos);
			memcpy((char *) outbuf + given, src->out + src->out_pos, n);
			src->out_pos += n;
			given += n;
			continue;
		}
		if (src->eof)
			break;
		/* refill: carried bytes first, then new ones */
		src->out_len = src->out_pos = 0;
		memcpy(src->in, src->carry, src->carry_len);
		n = read_input(src, src->in + src->carry_len, LOAD_READ_SIZE - src->carry_len);
		if (n == 0)
			src->eof = true;
		filter(src, src->in, src->carry_len + n, src->eof);
		CHECK_FOR_INTERRUPTS();
	}
	return given;
}

/*
 * load_source_begin_copy - start PostgreSQL's COPY FROM machinery (CSV
 * format) on the source with the spec's dialect.  The header is not given
 * to COPY: the loader reads it as the first record to match names.  Starts
 * progress reporting in pg_stat_progress_copy (ended by EndCopyFrom).
 */
CopyFromState
load_source_begin_copy(LoadSource *src, LoadSpec *spec)
{
	List	   *options = NIL;
	ParseState *pstate = make_parsestate(NULL);
	CopyFromState cstate;

	/* COPY's own buffer holds up to 64 kB; ours may grow by 5/3 + a bit */
	src->out = palloc(LOAD_READ_SIZE * 2 + 16);
	src->quote = spec->quote;
	src->escape = spec->escape;
	memset(src->special, false, sizeof(src->special));
	src->special[(unsigned char) src->quote] = true;
	src->special[(unsigned char) src->escape] = true;
	src->special[(unsigned char) '\\'] = true;
	src->special[(unsigned char) '\n'] = true;
	src->special[(unsigned char) '\r'] = true;
	src->encoding = pg_char_to_encoding(spec->encoding);
	src->mb_aware = PG_ENCODING_IS_CLIENT_ONLY(src->encoding);
	if (src->mb_aware)
		for (int b = 0x80; b < 256; b++)
			src->special[b] = true;
	options = lappend(options, makeDefElem("format", (Node *) makeString("csv"), -1));
	options = lappend(options, makeDefElem("delimiter",
										   (Node *) makeString(psprintf("%c", spec->delimiter)), -1));
	options = lappend(options, makeDefElem("quote",
										   (Node *) makeString(psprintf("%c", spec->quote)), -1));
	options = lappend(options, makeDefElem("escape",
										   (Node *) makeString(psprintf("%c", spec->escape)), -1));
	options = lappend(options, makeDefElem("null", (Node *) makeString(spec->null_string), -1));
	options = lappend(options, makeDefElem("encoding", (Node *) makeString(spec->encoding), -1));
	if (current_source != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a load is already running in this session"),
				 errdetail("pgetl_load cannot be called from inside another load (e.g. from a trigger of its target).")));
	cstate = BeginCopyFrom(pstate, spec->rel, NULL, NULL, false, source_callback, NIL, options);
	current_source = src;
	/* the size of what COPY reads is unknown (0) when it is inflated */
	if (!src->checked)
		load_source_check_gzip(src);
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_TOTAL, src->gzip ? 0 : src->size);
	return cstate;
}

/*
 * load_source_report_progress - publish the records read and rejected so far
 * in pg_stat_progress_copy.  The loader's own subtransactions keep the
 * progress row (load_rollback_subtransaction); one rolled back by other code
 * (an exception block in a trigger of the target) ends it: restart it then,
 * with the target, the source's size and the bytes COPY has read.
 */
void
load_source_report_progress(LoadSource *src, CopyFromState cstate, Oid relid,
							int64 rows_read, int64 rows_rejected)
{
	const int	index[2] = {PROGRESS_COPY_TUPLES_PROCESSED, PROGRESS_COPY_TUPLES_EXCLUDED};
	int64		val[2];

	if (MyBEEntry != NULL && MyBEEntry->st_progress_command != PROGRESS_COMMAND_COPY)
	{
		const int	restart_index[4] = {PROGRESS_COPY_COMMAND, PROGRESS_COPY_TYPE,
		PROGRESS_COPY_BYTES_TOTAL, PROGRESS_COPY_BYTES_PROCESSED};
		int64		restart_val[4];

		pgstat_progress_start_command(PROGRESS_COMMAND_COPY, relid);
		restart_val[0] = PROGRESS_COPY_COMMAND_FROM;
		restart_val[1] = PROGRESS_COPY_TYPE_CALLBACK;
		restart_val[2] = src->gzip ? 0 : src->size;
		restart_val[3] = cstate->bytes_processed;
		pgstat_progress_update_multi_param(4, restart_index, restart_val);
	}
	val[0] = rows_read;
	val[1] = rows_rejected;
	pgstat_progress_update_multi_param(2, index, val);
}

/*
 * load_rollback_subtransaction - RollbackAndReleaseCurrentSubTransaction,
 * keeping the load's row in pg_stat_progress_copy.  Aborting a
 * subtransaction ends the backend's progress reporting (AbortSubTransaction
 * calls pgstat_progress_end_command), and the loader isolates each bad row
 * in one: without this, the row would vanish from the view from a batch's
 * first bad row until the batch's end, i.e. most of the time with 1% bad
 * rows.  The command, its target and every parameter are copied before the
 * abort and published again after it; nothing is allocated.
 */
void
load_rollback_subtransaction(void)
{
	volatile PgBackendStatus *be = MyBEEntry;
	bool		copying = be != NULL && be->st_progress_command == PROGRESS_COMMAND_COPY;
	Oid			relid = InvalidOid;
	int			index[PGSTAT_NUM_PROGRESS_PARAM];
	int64		val[PGSTAT_NUM_PROGRESS_PARAM];

	if (copying)
	{
		relid = be->st_progress_command_target;
		for (int i = 0; i < PGSTAT_NUM_PROGRESS_PARAM; i++)
		{
			index[i] = i;
			val[i] = be->st_progress_param[i];
		}
	}
	RollbackAndReleaseCurrentSubTransaction();
	if (copying && be->st_progress_command != PROGRESS_COMMAND_COPY)
	{
		pgstat_progress_start_command(PROGRESS_COMMAND_COPY, relid);
		pgstat_progress_update_multi_param(PGSTAT_NUM_PROGRESS_PARAM, index, val);
	}
}

/*
 * count_lines - how many physical lines a record of len bytes spans.
 */
static int64
count_lines(const char *rec, int len)
{
	int64		lines = 1;

	if (memchr(rec, '\n', len) == NULL && memchr(rec, '\r', len) == NULL)
		return 1;
	for (int i = 0; i < len; i++)
	{
		if (rec[i] == '\n')
			lines++;
		else if (rec[i] == '\r' && (i + 1 >= len || rec[i + 1] != '\n'))
			lines++;
	}
	return lines;
}

/*
 * load_source_next - the next record: its fields (pointing into COPY's
 * buffers, valid until the next call), the physical line where it starts,
 * its raw text (palloc'd in the current memory context) and whether it is
 * the last one and lacks a line terminator.  Blank lines are skipped unless
 * load_source_keep_blank_lines said otherwise.  Returns false at the end of
 * the input.
 */
bool
load_source_next(LoadSource *src, CopyFromState cstate, char ***fields, int *nfields,
				 int64 *line, char **record, bool *unterminated)
{
	for (;;)
	{
		int64		lines;

		src->cur_line = src->next_line;
		if (!NextCopyFromRawFields(cstate, fields, nfields))
			return false;
		lines = count_lines(cstate->line_buf.data, cstate->line_buf.len);
		src->next_line += lines;
		if (cstate->line_buf.len == 0 && !src->keep_blank)
			continue;			/* a blank line is not a record */
		*record = pnstrdup(cstate->line_buf.data, cstate->line_buf.len);
		*line = src->cur_line;

		/*
		 * The input ends without a line break, and this record ends on its
		 * last physical line (the one after the last break): COPY took the
		 * end of the input for the end of the record.
		 */
		*unterminated = src->eof && src->ends_unbroken &&
			src->next_line - 1 == src->breaks + 1;
		src->records++;
		return true;
	}
}

/*
 * load_source_keep_blank_lines - from now on, a blank line is a record (of
 * one empty field, as COPY reads it): said when records have one field, so
 * that a blank line is an empty value rather than nothing.
 */
void
load_source_keep_blank_lines(LoadSource *src, bool keep)
{
	src->keep_blank = keep;
}

/* The physical line where the record being read starts (for errors). */
int64
load_source_current_line(LoadSource *src)
{
	return src->cur_line;
}

/*
 * load_source_end - finish COPY (ends progress reporting) and close the
 * file.  Also safe to skip on error: the transaction's abort closes the
 * file, and the next load resets the callback's source.
 */
void
load_source_end(LoadSource *src, CopyFromState cstate)
{
	current_source = NULL;
	if (cstate)
		EndCopyFrom(cstate);
	if (src->fd >= 0)
		CloseTransientFile(src->fd);
	src->fd = -1;
	if (src->gzip)
		inflateEnd(&src->zs);
	src->gzip = false;
}

/*
 * load_source_reset - forget the source of a load that failed (the file
 * itself is closed by the transaction's abort).
 */
void
load_source_reset(void)
{
	current_source = NULL;
}

/*
 * load_source_read - up to len bytes of the source's content, inflated when
 * it is gzip-compressed (no BOM filtering, no COPY), 0 at the end: how
 * pgetl_infer_load reads its sample.
 */
int
load_source_read(LoadSource *src, char *buf, int len)
{
	return read_input(src, buf, len);
}

/*
 * load_source_close - close a source read with load_source_read (a load
 * in progress, if any, is left alone).
 */
void
load_source_close(LoadSource *src)
{
	if (src->fd >= 0)
		CloseTransientFile(src->fd);
	src->fd = -1;
	if (src->gzip)
		inflateEnd(&src->zs);
	src->gzip = false;
}

/*
 * load_source_open_memory - a source over bytes in memory (not copied: they
 * must outlive the source), read like a plain file: how a replay of rejects
 * feeds the rejected records, under their header, to the loader.  "label"
 * names it in messages.
 */
LoadSource *
load_source_open_memory(const char *label, const char *data, int64 len)
{
	LoadSource *src = palloc0(sizeof(LoadSource));

	src->source = pstrdup(label);
	src->fd = -1;
	src->mem = data;
	src->mem_len = len;
	src->size = len;
	src->in = palloc(LOAD_READ_SIZE);
	src->carry = palloc(8);
	src->next_line = 1;
	return src;
}

/*
 * seek_raw - the next raw read starts at byte offset (of a plain, not
 * gzip-compressed, source); an offset past the end reads nothing.
 */
static void
seek_raw(LoadSource *src, int64 offset)
{
	if (src->mem)
		src->mem_off = Min(offset, src->mem_len);
	else if (!src->staged)
	{
		if (lseek(src->fd, (off_t) offset, SEEK_SET) < 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not seek in file \"%s\": %m", src->path)));
	}
	else
	{
		src->chunk = 0;
		while (src->chunk < src->nchunks && offset >= src->chunk_len[src->chunk])
		{
			offset -= src->chunk_len[src->chunk];
			src->chunk++;
		}
		src->chunk_off = src->chunk < src->nchunks ? offset : 0;
	}
	src->zin_len = src->zin_pos = 0;
	src->raw_eof = false;
}

/*
 * load_source_identity - what tells that a source is still the one a load
 * was interrupted on: its size in bytes, its modification time (a server
 * file's mtime, staged data's staged_at; *mtime_null when unknown) and a
 * 64-bit hash of its first 64 kB.  Refuses a gzip-compressed source: a
 * load that commits as it goes resumes at a byte offset, and a compressed
 * stream cannot be entered there.  Leaves the source at its start, to be
 * read by load_source_begin_copy.  Needs an SPI connection (staged data).
 */
void
load_source_identity(LoadSource *src, const char *load_name, int64 *size,
					 TimestampTz *mtime, bool *mtime_null, int64 *hash)
{
	char	   *buf = palloc(LOAD_READ_SIZE);
	int			len = 0;

	seek_raw(src, 0);
	while (len < LOAD_READ_SIZE)
	{
		int			n = read_raw(src, buf + len, LOAD_READ_SIZE - len);

		if (n == 0)
			break;
		len += n;
		CHECK_FOR_INTERRUPTS();
	}
	if (len >= 2 && (unsigned char) buf[0] == 0x1f && (unsigned char) buf[1] == 0x8b)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("load \"%s\" has commit_every, which cannot load the gzip-compressed source \"%s\"",
						load_name, src->source),
				 errdetail("A load that commits as it goes resumes at a byte offset of its source, and a compressed stream cannot be entered there."),
				 errhint("Decompress the file first (gunzip), or load it in one transaction: redefine the load without commit_every.")));
	*hash = (int64) hash_bytes_extended((const unsigned char *) buf, len, 0);
	*size = src->size;
	*mtime_null = false;
	if (src->mem)
		*mtime_null = true;
	else if (!src->staged)
		*mtime = src->mtime;
	else
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1];
		PgetlUserSwitch sw;
		bool		isnull;

		values[0] = Int64GetDatum(src->stage_id);
		pgetl_become_owner(&sw);
		if (SPI_execute_with_args("SELECT staged_at FROM pgetl.stage WHERE stage_id OPERATOR(pg_catalog.=) $1",
								  1, types, values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "staged data \"%s\" changed while it was loaded", src->source);
		pgetl_restore_user(&sw);
		*mtime = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	pfree(buf);
	seek_raw(src, 0);
}

/*
 * load_source_end_copy - finish COPY on the source but keep the source open,
 * to be read again from elsewhere (load_source_seek).
 */
void
load_source_end_copy(LoadSource *src, CopyFromState cstate)
{
	current_source = NULL;
	EndCopyFrom(cstate);
}

/*
 * load_source_seek - the next COPY begun on the source
 * (load_source_begin_copy) reads it from byte offset, where physical line
 * "line" starts (a record boundary, as given by load_source_line_offset).
 * Plain sources only (see load_source_identity).
 */
void
load_source_seek(LoadSource *src, int64 offset, int64 line)
{
	seek_raw(src, offset);
	src->checked = true;		/* the magic bytes were looked at from 0 */
	src->gzip = false;
	src->started = offset > 0;	/* no BOM but at the very start */
	src->line_start = true;
	src->in_quote = false;
	src->escaped = false;
	src->eof = false;
	src->carry_len = 0;
	src->out_len = src->out_pos = 0;
	src->prev_cr = false;
	src->ends_unbroken = false;
	src->breaks = line - 1;
	src->next_line = line;
	src->cur_line = line;
}

/* The physical line where the record after the last one read starts. */
int64
load_source_next_line(LoadSource *src)
{
	return src->next_line;
}

/*
 * load_source_line_offset - the byte offset where physical line "line"
 * starts, counting line breaks (\n, \r\n and a lone \r, as the line
 * numbers do) from "from_offset", where line "from_line" starts.  Reads
 * the bytes in between again (they were read through COPY, which reads
 * ahead, so its position does not tell); for a load that commits every N
 * records, that is a second read of each stretch, from the page cache.
 * Moves the source's read position: call it when done with COPY.
 */
int64
load_source_line_offset(LoadSource *src, int64 from_offset, int64 from_line, int64 line)
{
	int64		need = line - from_line;
	int64		breaks = 0;
	int64		off = from_offset;
	bool		prev_cr = false;
	bool		pending = false;	/* the line ended at a \r: a \n may follow */

	if (need <= 0)
		return from_offset;
	seek_raw(src, from_offset);
	for (;;)
	{
		int			n = read_raw(src, src->in, LOAD_READ_SIZE);

		if (n == 0)
		{
			/*
			 * the line of a last record without a line break starts at the
			 * end
			 */
			if (pending || breaks == need - 1)
				return off;
			elog(ERROR, "line " INT64_FORMAT " of \"%s\" not found", line, src->source);
		}
		for (int i = 0; i < n; i++)
		{
			char		c = src->in[i];

			if (pending)
				return c == '\n' ? off + i + 1 : off + i;
			if (c == '\r')
			{
				if (++breaks == need)
					pending = true;
			}
			else if (c == '\n' && !prev_cr)
			{
				if (++breaks == need)
					return off + i + 1;
			}
			prev_cr = c == '\r';
		}
		off += n;
		CHECK_FOR_INTERRUPTS();
	}
}

/* The source's size in bytes (compressed, for gzip). */
int64
load_source_size(LoadSource *src)
{
	return src->size;
}

/*
 * The resolved path of a server file, or NULL for staged data and for a
 * source in memory (a replay of rejects).
 */
const char *
load_source_path(LoadSource *src)
{
	return (src->staged || src->mem) ? NULL : src->path;
}

/* The bytes of the source COPY has read so far. */
int64
load_source_bytes_processed(CopyFromState cstate)
{
	return cstate->bytes_processed;
}

/*
 * load_source_set_bytes_processed - publish the bytes read by the parallel
 * reader (load_parallel.c) as this backend's COPY progress, as COPY does
 * for the bytes it reads itself.
 */
void
load_source_set_bytes_processed(CopyFromState cstate, int64 bytes)
{
	cstate->bytes_processed = bytes;
	pgstat_progress_update_param(PROGRESS_COPY_BYTES_PROCESSED, bytes);
}

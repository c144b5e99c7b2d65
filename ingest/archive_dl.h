/* archive_dl — libarchive, loaded when an archive is first read or written
 * (dlopen of libarchive.so.13), so that the commands that need none (a
 * search, a mount, a restore) do not load it and what it brings: libxml2,
 * ICU, libstdc++, nettle, lzma, bz2, lz4, acl. Their loading and symbol
 * binding were 2-2.5 ms of every command's start (CPU, 2026-11-27,
 * 2 cores), more than a warm search's query. Include this (it includes
 * <archive.h> and <archive_entry.h>) and call archive_dl_load() before the
 * first archive_*_new(). ingest/ and engine/ only. */
#ifndef IMDR_ARCHIVE_DL_H
#define IMDR_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

/* the functions used, each a pointer of its own type in struct archive_api */
#define ARCHIVE_DL_FUNCS(X) \
	X(archive_entry_copy_pathname) \
	X(archive_entry_copy_symlink) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_hardlink) \
	X(archive_entry_mtime) \
	X(archive_entry_mtime_nsec) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_perm) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_size) \
	X(archive_entry_set_uid) \
	X(archive_entry_size) \
	X(archive_entry_size_is_set) \
	X(archive_entry_symlink) \
	X(archive_error_string) \
	X(archive_read_data) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open_filename) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_format_7zip) \
	X(archive_read_support_format_cpio) \
	X(archive_read_support_format_gnutar) \
	X(archive_read_support_format_tar) \
	X(archive_read_support_format_zip) \
	X(archive_set_error) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open) \
	X(archive_write_open_fd) \
	X(archive_write_open_memory) \
	X(archive_write_set_bytes_in_last_block) \
	X(archive_write_set_format_gnutar) \
	X(archive_write_set_format_zip) \
	X(archive_write_set_options) \
	X(archive_write_zip_set_compression_deflate) \
	X(archive_write_zip_set_compression_store)

struct archive_api {
#define ARCHIVE_DL_FIELD(f) __typeof__(f) *f;
	ARCHIVE_DL_FUNCS(ARCHIVE_DL_FIELD)
#undef ARCHIVE_DL_FIELD
};

extern struct archive_api archive_api;

/* archive_dl_load: IMDR_OK once libarchive is loaded; IMDR_EUNSUP with a
 * message when it cannot be. Thread-safe. */
int archive_dl_load(void);

#define archive_entry_copy_pathname(...) archive_api.archive_entry_copy_pathname(__VA_ARGS__)
#define archive_entry_copy_symlink(...) archive_api.archive_entry_copy_symlink(__VA_ARGS__)
#define archive_entry_filetype(...) archive_api.archive_entry_filetype(__VA_ARGS__)
#define archive_entry_free(...) archive_api.archive_entry_free(__VA_ARGS__)
#define archive_entry_hardlink(...) archive_api.archive_entry_hardlink(__VA_ARGS__)
#define archive_entry_mtime(...) archive_api.archive_entry_mtime(__VA_ARGS__)
#define archive_entry_mtime_nsec(...) archive_api.archive_entry_mtime_nsec(__VA_ARGS__)
#define archive_entry_new(...) archive_api.archive_entry_new(__VA_ARGS__)
#define archive_entry_pathname(...) archive_api.archive_entry_pathname(__VA_ARGS__)
#define archive_entry_perm(...) archive_api.archive_entry_perm(__VA_ARGS__)
#define archive_entry_set_filetype(...) archive_api.archive_entry_set_filetype(__VA_ARGS__)
#define archive_entry_set_gid(...) archive_api.archive_entry_set_gid(__VA_ARGS__)
#define archive_entry_set_mtime(...) archive_api.archive_entry_set_mtime(__VA_ARGS__)
#define archive_entry_set_pathname(...) archive_api.archive_entry_set_pathname(__VA_ARGS__)
#define archive_entry_set_perm(...) archive_api.archive_entry_set_perm(__VA_ARGS__)
#define archive_entry_set_size(...) archive_api.archive_entry_set_size(__VA_ARGS__)
#define archive_entry_set_uid(...) archive_api.archive_entry_set_uid(__VA_ARGS__)
#define archive_entry_size(...) archive_api.archive_entry_size(__VA_ARGS__)
#define archive_entry_size_is_set(...) archive_api.archive_entry_size_is_set(__VA_ARGS__)
#define archive_entry_symlink(...) archive_api.archive_entry_symlink(__VA_ARGS__)
#define archive_error_string(...) archive_api.archive_error_string(__VA_ARGS__)
#define archive_read_data(...) archive_api.archive_read_data(__VA_ARGS__)
#define archive_read_free(...) archive_api.archive_read_free(__VA_ARGS__)
#define archive_read_new(...) archive_api.archive_read_new(__VA_ARGS__)
#define archive_read_next_header(...) archive_api.archive_read_next_header(__VA_ARGS__)
#define archive_read_open_filename(...) archive_api.archive_read_open_filename(__VA_ARGS__)
#define archive_read_support_filter_all(...) archive_api.archive_read_support_filter_all(__VA_ARGS__)
#define archive_read_support_format_7zip(...) archive_api.archive_read_support_format_7zip(__VA_ARGS__)
#define archive_read_support_format_cpio(...) archive_api.archive_read_support_format_cpio(__VA_ARGS__)
#define archive_read_support_format_gnutar(...) archive_api.archive_read_support_format_gnutar(__VA_ARGS__)
#define archive_read_support_format_tar(...) archive_api.archive_read_support_format_tar(__VA_ARGS__)
#define archive_read_support_format_zip(...) archive_api.archive_read_support_format_zip(__VA_ARGS__)
#define archive_set_error(...) archive_api.archive_set_error(__VA_ARGS__)
#define archive_write_close(...) archive_api.archive_write_close(__VA_ARGS__)
#define archive_write_data(...) archive_api.archive_write_data(__VA_ARGS__)
#define archive_write_finish_entry(...) archive_api.archive_write_finish_entry(__VA_ARGS__)
#define archive_write_free(...) archive_api.archive_write_free(__VA_ARGS__)
#define archive_write_header(...) archive_api.archive_write_header(__VA_ARGS__)
#define archive_write_new(...) archive_api.archive_write_new(__VA_ARGS__)
#define archive_write_open(...) archive_api.archive_write_open(__VA_ARGS__)
#define archive_write_open_fd(...) archive_api.archive_write_open_fd(__VA_ARGS__)
#define archive_write_open_memory(...) archive_api.archive_write_open_memory(__VA_ARGS__)
#define archive_write_set_bytes_in_last_block(...) archive_api.archive_write_set_bytes_in_last_block(__VA_ARGS__)
#define archive_write_set_format_gnutar(...) archive_api.archive_write_set_format_gnutar(__VA_ARGS__)
#define archive_write_set_format_zip(...) archive_api.archive_write_set_format_zip(__VA_ARGS__)
#define archive_write_set_options(...) archive_api.archive_write_set_options(__VA_ARGS__)
#define archive_write_zip_set_compression_deflate(...) archive_api.archive_write_zip_set_compression_deflate(__VA_ARGS__)
#define archive_write_zip_set_compression_store(...) archive_api.archive_write_zip_set_compression_store(__VA_ARGS__)

#endif

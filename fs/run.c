/* run — fs_run (imdrfs.h): everything that can fail for a reason the user
 * should see happens before mounting, so a failed mount leaves nothing
 * behind; then the session, the background threads, and teardown. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs_impl.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/timefmt.h"

/* warm_main: right after mounting, load the newest snapshot's root folder
 * (and with it the window of its pack that holds most of its folders), so
 * the first look into latest/ costs no fetch. A fixed amount of work,
 * whatever the repository's size. */
static void *
warm_main(void *arg)
{
	struct fs *fs = arg;
	struct inode p;

	pthread_mutex_lock(&fs->smu);
	if (fs->nsnaps > 0)
		(void)snaproot_proto(fs, fs->single >= 0 ? (size_t)fs->single : fs->nsnaps - 1, &p);
	pthread_mutex_unlock(&fs->smu);
	err_clear();
	repo_thread_cleanup();
	return NULL;
}

static struct fs *
fs_new(struct repo *r, const struct fs_config *cfg)
{
	struct fs *fs = xcalloc(1, sizeof(*fs));

	fs->r = r;
	fs->cfg = *cfg;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->mount_time = time_now_ns();
	fs->single = -1;
	pthread_mutex_init(&fs->imu, NULL);
	pthread_mutex_init(&fs->smu, NULL);
	pthread_mutex_init(&fs->pmu, NULL);
	pthread_mutex_init(&fs->emu, NULL);
	pthread_mutex_init(&fs->fhmu, NULL);
	pthread_cond_init(&fs->pcv, NULL);
	inode_table_init(fs);
	caches_init(fs);
	return fs;
}

static void
fs_free(struct fs *fs)
{
	if (fs->warm_started)
		pthread_join(fs->warm, NULL);
	prefetch_stop(fs);
	inode_table_free(fs);
	snaps_free(fs);
	caches_free(fs);
	repo_free(fs->r);
	free(fs);
}

/* prepare: the snapshot list, the single snapshot if one is asked for,
 * the disk cache, the fixed inodes. */
static int
prepare(struct fs *fs)
{
	struct repo_reader_config rc_cfg = { fs->cfg.tree_cache_bytes, fs->cfg.cache_dir,
		fs->cfg.cache_dir_bytes, 1 };
	int rc;

	pthread_mutex_lock(&fs->smu);
	rc = snaps_refresh(fs, 1);
	if (rc == IMDR_OK && fs->cfg.single) {
		struct snapshot_name *names = xcalloc(fs->nsnaps ? fs->nsnaps : 1, sizeof(*names));
		size_t k;

		for (size_t s = 0; s < fs->nsnaps; s++)
			names[s] = fs->snaps[s].sn;
		rc = snapshot_resolve_name(names, fs->nsnaps, fs->cfg.single, &k);
		free(names);
		if (rc == IMDR_OK) {
			fs->single = (long)k;
			memcpy(fs->single_id, fs->snaps[k].sn.id, sizeof(fs->single_id));
			if (snaps_loaded(fs, k) == NULL)
				rc = IMDR_EIO;
		}
	}
	pthread_mutex_unlock(&fs->smu);
	if (rc == IMDR_OK)
		rc = repo_reader_configure(fs->r, &rc_cfg);
	if (rc == IMDR_OK)
		top_init(fs);
	return rc;
}

static int
serve(struct fs *fs)
{
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	int rc;

	/* each worker holds a 1 MiB request buffer: bound them */
	fuse_loop_cfg_set_max_threads(lc, 10);
	fuse_loop_cfg_set_idle_threads(lc, 8);
	rc = fuse_session_loop_mt(fs->se, lc);
	fuse_loop_cfg_destroy(lc);
	/* a signal that asked us to stop is a clean exit */
	return !(rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP);
}

struct mounted_arg {
	const struct fs_config *cfg;
	struct repo *r;
};

static void *
mounted_main(void *arg)
{
	struct mounted_arg *m = arg;

	m->cfg->mounted(m->cfg->mounted_ctx, m->r);
	return NULL;
}

int
fs_run(struct repo *r, const struct fs_config *cfg, int argc, char **argv,
    const char *mountpoint, int foreground)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fs *fs = fs_new(r, cfg);
	struct mounted_arg marg = { cfg, r };
	pthread_t mounted_th;
	int rc, mounted_started = 0;

	rc = prepare(fs);
	if (rc) {
		warn0("%s", err_msg(rc));
		rc = 1;
		goto out;
	}
	rc = 1;
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (fs->se == NULL)
		goto out;
	if (fuse_set_signal_handlers(fs->se) != 0)
		goto out_session;
	if (fuse_session_mount(fs->se, mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	secmem_relock();	/* memory locks do not survive the fork */
	if (!foreground)
		log_use_syslog();
	/* threads only after daemonizing: fork keeps just the caller */
	fs->warm_started = pthread_create(&fs->warm, NULL, warm_main, fs) == 0;
	prefetch_start(fs, cfg->prefetch_threads);
	if (cfg->mounted)
		mounted_started = pthread_create(&mounted_th, NULL, mounted_main, &marg) == 0;
	rc = serve(fs);
	if (mounted_started)
		pthread_join(mounted_th, NULL);
out_unmount:
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_session:
	fuse_session_destroy(fs->se);
out:
	fuse_opt_free_args(&args);
	fs_free(fs);
	return rc;
}

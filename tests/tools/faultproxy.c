/* faultproxy — a TCP proxy for tests: a slow or faulty link between a client
 * and a server on 127.0.0.1 (this kernel has no netem).
 *
 *	faultproxy --to PORT [--listen PORT] [--delay-ms N] [--fail N]
 *	    [--drop N] [--port-file F]
 *
 *   --to PORT       forward to 127.0.0.1:PORT
 *   --listen PORT   listen on 127.0.0.1:PORT (default: a free port)
 *   --delay-ms N    hold every forwarded byte for N ms, both ways, without
 *                   limiting bandwidth (a link with a 2N ms round trip)
 *   --fail N        answer the first N connections with "503 Service
 *                   Unavailable" and close them
 *   --drop N        cut every Nth connection after it has sent its request
 *                   upstream, without an answer (a reset)
 *   --hang          accept connections and never answer (a hung server)
 *   --slow-every N  hold every Nth GET request (counted over all
 *   --slow-ms M     connections) for M ms more before forwarding it
 *   --port-file F   write the port listened on to F (then serve)
 * The port is also printed on stdout. Runs until killed.
 *
 * Signals switch faults on and off while it runs:
 *   SIGUSR1  black hole: connections are accepted and read, nothing is
 *            forwarded or answered (on open connections too)
 *   SIGUSR2  resets: every connection is reset at its next request
 *   SIGHUP   healthy again; connections that lost bytes are reset, so
 *            clients reconnect at once */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int to_port, delay_ms, fail_n, drop_n, hang, slow_every, slow_ms;
static long conn_count, get_count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

enum { M_OK, M_BLACKHOLE, M_RESET };
static volatile int mode;		/* read by the pumps */
static volatile sig_atomic_t wanted = -1;	/* set by the signal handlers */

/* Open connections, so that healing can reset the ones that lost bytes. */
struct conn {
	int c, u;
	int tainted;		/* bytes were dropped: reset it when healed */
	struct conn *next;
};
static struct conn *conns;

static void
on_signal(int sig)
{
	wanted = sig == SIGUSR1 ? M_BLACKHOLE : sig == SIGUSR2 ? M_RESET : M_OK;
}

static void
reset_fd(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	shutdown(fd, SHUT_RDWR);
}

/* apply_mode: the main loop's reaction to a signal. */
static void
apply_mode(int m)
{
	pthread_mutex_lock(&mu);
	mode = m;
	for (struct conn *k = conns; k; k = k->next) {
		if ((m == M_OK && k->tainted) || m == M_RESET) {
			reset_fd(k->c);
			shutdown(k->u, SHUT_RDWR);
		}
	}
	pthread_mutex_unlock(&mu);
}

struct pipe_args {
	int from, to;
	int upstream;		/* from the client to the server */
	struct conn *k;
};

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One direction. With a delay, bytes are held for delay_ms from the
 * moment they arrive and then written, while reading goes on: latency
 * without a bandwidth limit (a link with a 2 * delay_ms round trip). */
struct chunk {
	struct chunk *next;
	struct timespec due;
	size_t n;
	char data[];
};

struct line {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *head, *tail;
	size_t queued;
	int eof;
	int to;
};

/* due: c's time has come */
static int
due(const struct chunk *c)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > c->due.tv_sec ||
	    (now.tv_sec == c->due.tv_sec && now.tv_nsec >= c->due.tv_nsec);
}

/* sendv_all: every byte of iov[0..n) (adjusted as it goes); 0 or -1 */
static int
sendv_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		struct msghdr m = { 0 };
		ssize_t k;

		m.msg_iov = iov;
		m.msg_iovlen = (size_t)n;
		k = sendmsg(fd, &m, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

#define GATHER 64
/* a read of at most this; a loopback socket hands over what it holds */
#define CHUNK_MAX (64u << 10)

/* writer: the chunks of a line in order, each once its time has come;
 * those due together go out in one sendmsg (a syscall, a sleep and a
 * wake-up a chunk made the proxy a fifth of the CPU a 200 MB/s transfer
 * took on a 2-core machine, time a real link does not take from it) */
static void *
writer(void *arg)
{
	struct line *l = arg;

	for (;;) {
		struct chunk *c, *v[GATHER];
		struct iovec iov[GATHER];
		size_t bytes = 0;
		int n = 0;

		pthread_mutex_lock(&l->mu);
		while (l->head == NULL && !l->eof)
			pthread_cond_wait(&l->cv, &l->mu);
		c = l->head;
		pthread_mutex_unlock(&l->mu);
		if (c == NULL)
			break;
		if (!due(c))
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &c->due, NULL) == EINTR)
				;
		pthread_mutex_lock(&l->mu);
		for (; c && n < GATHER && (n == 0 || due(c)); c = c->next) {
			v[n] = c;
			iov[n].iov_base = c->data;
			iov[n].iov_len = c->n;
			bytes += c->n;
			n++;
		}
		pthread_mutex_unlock(&l->mu);
		if (sendv_all(l->to, iov, n) < 0) {
			pthread_mutex_lock(&l->mu);
			l->eof = 2;	/* the other side is gone */
			pthread_mutex_unlock(&l->mu);
		}
		pthread_mutex_lock(&l->mu);
		l->head = v[n - 1]->next;
		if (l->head == NULL)
			l->tail = NULL;
		l->queued -= bytes;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		for (int i = 0; i < n; i++)
			free(v[i]);
	}
	shutdown(l->to, SHUT_WR);
	return NULL;
}

static void *
pump(void *arg)
{
	struct pipe_args *a = arg;
	struct line l = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, a->to };
	pthread_t w;

	pthread_create(&w, NULL, writer, &l);
	for (;;) {
		struct chunk *c = malloc(sizeof(*c) + CHUNK_MAX);
		ssize_t n;

		if (c == NULL)
			break;
		long hold = delay_ms;

		n = recv(a->from, c->data, CHUNK_MAX, 0);
		if (n <= 0) {
			free(c);
			break;
		}
		if (mode == M_BLACKHOLE) {
			a->k->tainted = 1;
			free(c);
			continue;	/* swallowed */
		}
		if (mode == M_RESET) {
			free(c);
			reset_fd(a->k->c);
			shutdown(a->k->u, SHUT_RDWR);
			break;
		}
		if (a->upstream && slow_every > 0 && n >= 4 && memcmp(c->data, "GET ", 4) == 0) {
			long k;

			pthread_mutex_lock(&mu);
			k = ++get_count;
			pthread_mutex_unlock(&mu);
			if (k % slow_every == 0)
				hold += slow_ms;
		}
		c->n = (size_t)n;
		c->next = NULL;
		clock_gettime(CLOCK_MONOTONIC, &c->due);
		c->due.tv_sec += hold / 1000;
		c->due.tv_nsec += (hold % 1000) * 1000000;
		c->due.tv_sec += c->due.tv_nsec / 1000000000;
		c->due.tv_nsec %= 1000000000;
		pthread_mutex_lock(&l.mu);
		while (l.queued > (16u << 20) && l.eof != 2)
			pthread_cond_wait(&l.cv, &l.mu);	/* backpressure */
		if (l.tail)
			l.tail->next = c;
		else
			l.head = c;
		l.tail = c;
		l.queued += c->n;
		pthread_cond_broadcast(&l.cv);
		pthread_mutex_unlock(&l.mu);
	}
	pthread_mutex_lock(&l.mu);
	if (l.eof == 0)
		l.eof = 1;
	pthread_cond_broadcast(&l.cv);
	pthread_mutex_unlock(&l.mu);
	pthread_join(w, NULL);
	shutdown(a->from, SHUT_RD);
	return NULL;
}

static int
connect_upstream(void)
{
	struct sockaddr_in sa = { 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)to_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct conn *
conn_add(int c)
{
	struct conn *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->c = c;
	k->u = -1;
	pthread_mutex_lock(&mu);
	k->next = conns;
	conns = k;
	pthread_mutex_unlock(&mu);
	return k;
}

static void
conn_del(struct conn *k)
{
	pthread_mutex_lock(&mu);
	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	pthread_mutex_unlock(&mu);
	free(k);
}

static void *
serve(void *arg)
{
	int c = (int)(intptr_t)arg, u, one = 1;
	long n;
	pthread_t t1, t2;
	struct pipe_args ab, ba;
	struct conn *k;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&mu);
	n = ++conn_count;
	pthread_mutex_unlock(&mu);
	k = conn_add(c);
	if (k == NULL) {
		close(c);
		return NULL;
	}
	if (hang || mode == M_BLACKHOLE) {
		char buf[4096];

		k->tainted = 1;	/* healing resets it */
		while (recv(c, buf, sizeof(buf), 0) > 0)
			;	/* read, never answer */
		goto done;
	}
	if (n <= fail_n) {
		static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		char buf[4096];
		struct pollfd p = { c, POLLIN, 0 };

		if (poll(&p, 1, 2000) > 0)
			(void)recv(c, buf, sizeof(buf), 0);	/* the request line at least */
		write_all(c, r503, sizeof(r503) - 1);
		goto done;
	}
	if ((drop_n > 0 && n % drop_n == 0) || mode == M_RESET) {
		/* take the request, then reset the connection */
		char buf[4096];
		struct pollfd p = { c, POLLIN, 0 };

		if (poll(&p, 1, 2000) > 0)
			(void)recv(c, buf, sizeof(buf), 0);
		reset_fd(c);
		goto done;
	}
	u = connect_upstream();
	if (u < 0)
		goto done;
	k->u = u;
	ab = (struct pipe_args){ c, u, 1, k };
	ba = (struct pipe_args){ u, c, 0, k };
	pthread_create(&t1, NULL, pump, &ab);
	pthread_create(&t2, NULL, pump, &ba);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	close(u);
done:
	conn_del(k);
	close(c);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "listen", required_argument, NULL, 'l' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "fail", required_argument, NULL, 'f' },
		{ "drop", required_argument, NULL, 'x' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "hang", no_argument, NULL, 'H' },
		{ "slow-every", required_argument, NULL, 'S' },
		{ "slow-ms", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in sa = { 0 };
	socklen_t sl = sizeof(sa);
	const char *port_file = NULL;
	int listen_port = 0, s, ch, one = 1;

	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 't': to_port = atoi(optarg); break;
		case 'l': listen_port = atoi(optarg); break;
		case 'd': delay_ms = atoi(optarg); break;
		case 'f': fail_n = atoi(optarg); break;
		case 'x': drop_n = atoi(optarg); break;
		case 'p': port_file = optarg; break;
		case 'H': hang = 1; break;
		case 'S': slow_every = atoi(optarg); break;
		case 'M': slow_ms = atoi(optarg); break;
		case 'h':
			printf("usage: faultproxy --to PORT [--listen PORT] [--delay-ms N] [--fail N] [--drop N] [--hang]\n"
			    "                  [--slow-every N --slow-ms M] [--port-file F]\n"
			    "A TCP proxy on 127.0.0.1 that delays every forwarded read by N ms, answers the\n"
			    "first N connections with 503, resets every Nth connection, or holds every Nth\n"
			    "GET for M ms. SIGUSR1: black hole; SIGUSR2: reset everything; SIGHUP: healthy.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (to_port <= 0 && !hang) {
		fprintf(stderr, "faultproxy: --to PORT is required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa_ = { 0 };

		sa_.sa_handler = on_signal;
		sigaction(SIGUSR1, &sa_, NULL);
		sigaction(SIGUSR2, &sa_, NULL);
		sigaction(SIGHUP, &sa_, NULL);
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)listen_port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 128) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &sl) < 0) {
		fprintf(stderr, "faultproxy: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");

		if (f) {
			fprintf(f, "%d\n", ntohs(sa.sin_port));
			fclose(f);
		}
	}
	for (;;) {
		struct pollfd pl = { s, POLLIN, 0 };
		pthread_t t;
		int c;

		if (wanted >= 0) {
			int m = wanted;

			wanted = -1;
			apply_mode(m);
		}
		if (poll(&pl, 1, 100) <= 0)
			continue;
		c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
		else
			close(c);
	}
	return 0;
}

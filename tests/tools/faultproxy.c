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
 *   --port-file F   write the port listened on to F (then serve)
 * The port is also printed on stdout. Runs until killed. */
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
#include <time.h>
#include <unistd.h>

static int to_port, delay_ms, fail_n, drop_n, hang;
static long conn_count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct pipe_args {
	int from, to;
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

static void *
writer(void *arg)
{
	struct line *l = arg;

	for (;;) {
		struct chunk *c;

		pthread_mutex_lock(&l->mu);
		while (l->head == NULL && !l->eof)
			pthread_cond_wait(&l->cv, &l->mu);
		c = l->head;
		if (c == NULL) {
			pthread_mutex_unlock(&l->mu);
			break;
		}
		pthread_mutex_unlock(&l->mu);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &c->due, NULL) == EINTR)
			;
		if (write_all(l->to, c->data, c->n) < 0) {
			pthread_mutex_lock(&l->mu);
			l->eof = 2;	/* the other side is gone */
			pthread_mutex_unlock(&l->mu);
		}
		pthread_mutex_lock(&l->mu);
		l->head = c->next;
		if (l->head == NULL)
			l->tail = NULL;
		l->queued -= c->n;
		pthread_cond_broadcast(&l->cv);
		pthread_mutex_unlock(&l->mu);
		free(c);
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
		struct chunk *c = malloc(sizeof(*c) + 65536);
		ssize_t n;

		if (c == NULL)
			break;
		n = recv(a->from, c->data, 65536, 0);
		if (n <= 0) {
			free(c);
			break;
		}
		c->n = (size_t)n;
		c->next = NULL;
		clock_gettime(CLOCK_MONOTONIC, &c->due);
		c->due.tv_nsec += (long)delay_ms * 1000000;
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

static void *
serve(void *arg)
{
	int c = (int)(intptr_t)arg, u, one = 1;
	long n;
	pthread_t t1, t2;
	struct pipe_args ab, ba;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&mu);
	n = ++conn_count;
	pthread_mutex_unlock(&mu);
	if (hang) {
		char buf[4096];

		while (recv(c, buf, sizeof(buf), 0) > 0)
			;	/* read, never answer */
		close(c);
		return NULL;
	}
	if (n <= fail_n) {
		static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		char buf[4096];
		struct pollfd p = { c, POLLIN, 0 };

		if (poll(&p, 1, 2000) > 0)
			(void)recv(c, buf, sizeof(buf), 0);	/* the request line at least */
		write_all(c, r503, sizeof(r503) - 1);
		close(c);
		return NULL;
	}
	if (drop_n > 0 && n % drop_n == 0) {
		/* take the request, then reset the connection */
		char buf[4096];
		struct pollfd p = { c, POLLIN, 0 };
		struct linger lg = { 1, 0 };

		if (poll(&p, 1, 2000) > 0)
			(void)recv(c, buf, sizeof(buf), 0);
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		return NULL;
	}
	u = connect_upstream();
	if (u < 0) {
		close(c);
		return NULL;
	}
	ab = (struct pipe_args){ c, u };
	ba = (struct pipe_args){ u, c };
	pthread_create(&t1, NULL, pump, &ab);
	pthread_create(&t2, NULL, pump, &ba);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	close(c);
	close(u);
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
		case 'h':
			printf("usage: faultproxy --to PORT [--listen PORT] [--delay-ms N] [--fail N] [--drop N] [--hang] [--port-file F]\n"
			    "A TCP proxy on 127.0.0.1 that delays every forwarded read by N ms, answers the\n"
			    "first N connections with 503, or resets every Nth connection.\n");
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
		int c = accept(s, NULL, NULL);
		pthread_t t;

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

package embedded

import (
	"fmt"

	"github.com/nats-io/nats-server/v2/server"
)

// natsOptions turns c into nats-server options for a server called name
// keeping its data in storeDir, on top of base, the options read from a
// [WithConfigFile] file, or nil.
func (c *config) natsOptions(base *server.Options, name, storeDir string) (*server.Options, error) {
	o := base
	if o == nil {
		o = &server.Options{DontListen: !c.listenSet}
	}
	o.ServerName = name
	if c.listenSet {
		o.Host, o.Port, o.DontListen = c.host, c.port, false
	}
	o.NoSigs = true
	o.JetStream = true
	o.StoreDir = storeDir
	if c.memSet || o.JetStreamMaxMemory <= 0 {
		o.JetStreamMaxMemory = c.maxMemory
	}
	if c.storeSet || o.JetStreamMaxStore <= 0 {
		o.JetStreamMaxStore = c.maxStore
	}
	o.DisableJetStreamBanner = true // a dozen Info lines per start, mostly defaults

	switch {
	case c.syncSet:
		o.SyncInterval, o.SyncAlways = c.syncInterval, c.syncAlways
	case o.SyncInterval == 0 && !o.SyncAlways: // neither the options nor the file say
		o.SyncInterval = defaultSyncInterval
	}

	if c.cluster != "" {
		o.Cluster.Name, o.Cluster.Host, o.Cluster.Port = c.cluster, c.routeHost, c.routePort
		o.Routes = c.routeURLs
	}
	if c.clusterTLSSet {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: c.clusterTLSCert, KeyFile: c.clusterTLSKey, CaFile: c.clusterTLSCA, Verify: true,
		})
		if err != nil {
			return nil, fmt.Errorf("embedded: route TLS: %w; check the files given to WithClusterTLS", err)
		}
		tc.RootCAs = tc.ClientCAs // a node dials routes as well as accepting them
		o.Cluster.TLSConfig = tc
	}

	if c.tlsSet {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: c.tlsCert, KeyFile: c.tlsKey, CaFile: c.tlsCA, Verify: c.tlsCA != "",
		})
		if err != nil {
			return nil, fmt.Errorf("embedded: client TLS: %w; check the files given to WithTLS", err)
		}
		o.TLS, o.TLSVerify, o.TLSConfig = true, c.tlsCA != "", tc
		o.TLSCert, o.TLSKey, o.TLSCaCert = c.tlsCert, c.tlsKey, c.tlsCA
	}

	for _, u := range c.users {
		o.Users = append(o.Users, &server.User{Username: u.name, Password: u.password})
	}
	if c.tokenSet {
		o.Authorization = c.token
	}
	for _, k := range c.nkeys {
		o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: k})
	}
	if o.Authorization != "" && (len(o.Users) > 0 || len(o.Nkeys) > 0) {
		// nats-server would silently ignore the token.
		return nil, fmt.Errorf("%w: a token (WithToken) cannot be combined with users or nkeys; give every client a user or an nkey instead", ErrInvalidOption)
	}

	if c.monitorSet {
		o.HTTPHost, o.HTTPPort = c.monHost, c.monPort
		if o.HTTPHost == "" {
			o.HTTPHost = "0.0.0.0" // as for WithListen; the server would take the client host
		}
	}
	return o, nil
}

package main

// The deployable package under deploy/ (the Dockerfile and the Kubernetes
// manifests), checked against the binary it ships. No registry or cluster
// is reachable from CI, so the image is never built and nothing is applied;
// instead every claim the files make is checked here: that the flags exist,
// that the probes answer, that ports, labels, selectors, Secrets and the
// ConfigMap agree with each other and with what naftiko reads, and that the
// Deployment's own arguments start naftiko on the ConfigMap's capability,
// mounted the way the kubelet mounts it.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	goversion "go/version"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/naftiko/naftiko/engine/continuation"
	"github.com/naftiko/naftiko/spec"
)

// Kubernetes objects, as far as the checks read them.

type kMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type kObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   kMeta  `yaml:"metadata"`
}

type kSelector struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []yaml.Node       `yaml:"matchExpressions"`
}

type kProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"` // a number or a port name
	} `yaml:"httpGet"`
	Exec      *yaml.Node `yaml:"exec"`
	TCPSocket *yaml.Node `yaml:"tcpSocket"`
	GRPC      *yaml.Node `yaml:"grpc"`
}

type kSecurityContext struct {
	RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
	RunAsUser                *int  `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
	Privileged               *bool `yaml:"privileged"`
	Capabilities             *struct {
		Add  []string `yaml:"add"`
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile *struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

type kEnvVar struct {
	Name      string  `yaml:"name"`
	Value     *string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

// secretKey is the Secret key the variable comes from, or "".
func (e kEnvVar) secretKey() string {
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		return ""
	}
	return e.ValueFrom.SecretKeyRef.Key
}

type kContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	Env          []kEnvVar   `yaml:"env"`
	EnvFrom      []yaml.Node `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
		SubPath   string `yaml:"subPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *kProbe `yaml:"livenessProbe"`
	ReadinessProbe *kProbe `yaml:"readinessProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext *kSecurityContext `yaml:"securityContext"`
}

type kDeployment struct {
	kObject `yaml:",inline"`
	Spec    struct {
		Replicas *int      `yaml:"replicas"`
		Selector kSelector `yaml:"selector"`
		Template struct {
			Metadata kMeta `yaml:"metadata"`
			Spec     struct {
				AutomountServiceAccountToken  *bool             `yaml:"automountServiceAccountToken"`
				TerminationGracePeriodSeconds *int              `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               *kSecurityContext `yaml:"securityContext"`
				TopologySpreadConstraints     []struct {
					LabelSelector kSelector `yaml:"labelSelector"`
				} `yaml:"topologySpreadConstraints"`
				Containers []kContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name  string      `yaml:"name"`
						Items []yaml.Node `yaml:"items"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type kService struct {
	kObject `yaml:",inline"`
	Spec    struct {
		Type      string            `yaml:"type"`
		ClusterIP string            `yaml:"clusterIP"`
		Selector  map[string]string `yaml:"selector"`
		Ports     []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type kConfigMap struct {
	kObject `yaml:",inline"`
	Data    map[string]string `yaml:"data"`
}

type kSecret struct {
	kObject    `yaml:",inline"`
	StringData map[string]string `yaml:"stringData"`
	Data       map[string]string `yaml:"data"`
}

type kPDB struct {
	kObject `yaml:",inline"`
	Spec    struct {
		MinAvailable   *string   `yaml:"minAvailable"`
		MaxUnavailable *string   `yaml:"maxUnavailable"`
		Selector       kSelector `yaml:"selector"`
	} `yaml:"spec"`
}

type kHPA struct {
	kObject `yaml:",inline"`
	Spec    struct {
		ScaleTargetRef struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Name       string `yaml:"name"`
		} `yaml:"scaleTargetRef"`
		MinReplicas *int `yaml:"minReplicas"`
		MaxReplicas int  `yaml:"maxReplicas"`
		Metrics     []struct {
			Type     string `yaml:"type"`
			Resource *struct {
				Name   string `yaml:"name"`
				Target struct {
					Type               string `yaml:"type"`
					AverageUtilization *int   `yaml:"averageUtilization"`
				} `yaml:"target"`
			} `yaml:"resource"`
		} `yaml:"metrics"`
	} `yaml:"spec"`
}

type kPeer struct {
	PodSelector       *kSelector `yaml:"podSelector"`
	NamespaceSelector *kSelector `yaml:"namespaceSelector"`
	IPBlock           *struct {
		CIDR string `yaml:"cidr"`
	} `yaml:"ipBlock"`
}

type kNetworkPolicy struct {
	kObject `yaml:",inline"`
	Spec    struct {
		PodSelector kSelector `yaml:"podSelector"`
		PolicyTypes []string  `yaml:"policyTypes"`
		Ingress     []struct {
			From  []kPeer `yaml:"from"`
			Ports []struct {
				Port string `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

// deployManifests is every object under deploy/kubernetes/.
type deployManifests struct {
	deployment kDeployment
	services   []kService
	configMap  kConfigMap
	secret     kSecret
	pdb        kPDB
	hpa        kHPA
	netpols    []kNetworkPolicy
}

func deployDir(t *testing.T) string { return filepath.Join(repoDir(t), "deploy") }

// loadDeployManifests parses every YAML document of deploy/kubernetes/,
// refusing unknown kinds, unexpected API versions, a kind given twice
// where one is expected, and a missing one.
func loadDeployManifests(t *testing.T) *deployManifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir(t), "kubernetes", "*.y*ml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/kubernetes/ (%v)", err)
	}
	wantAPI := map[string]string{
		"Deployment": "apps/v1", "Service": "v1", "ConfigMap": "v1", "Secret": "v1",
		"PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
		"NetworkPolicy": "networking.k8s.io/v1",
	}
	m := &deployManifests{}
	count := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var node yaml.Node
			if err := dec.Decode(&node); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: document %d: %v", f, i+1, err)
			}
			if len(node.Content) == 0 {
				continue // an empty document (a trailing ---)
			}
			var obj kObject
			if err := node.Decode(&obj); err != nil {
				t.Fatalf("%s: document %d: %v", f, i+1, err)
			}
			where := fmt.Sprintf("%s: %s %q", filepath.Base(f), obj.Kind, obj.Metadata.Name)
			api, known := wantAPI[obj.Kind]
			switch {
			case !known:
				t.Fatalf("%s: unexpected kind (the checks know %v)", where, wantAPI)
			case obj.APIVersion != api:
				t.Errorf("%s: apiVersion %q, want %q", where, obj.APIVersion, api)
			case obj.Metadata.Name == "":
				t.Errorf("%s: no metadata.name", where)
			case obj.Metadata.Namespace != "":
				t.Errorf("%s: metadata.namespace %q: leave it out, so the files apply to the namespace kubectl is given", where, obj.Metadata.Namespace)
			}
			count[obj.Kind]++
			var target any
			switch obj.Kind {
			case "Deployment":
				target = &m.deployment
			case "Service":
				m.services = append(m.services, kService{})
				target = &m.services[len(m.services)-1]
			case "ConfigMap":
				target = &m.configMap
			case "Secret":
				target = &m.secret
			case "PodDisruptionBudget":
				target = &m.pdb
			case "HorizontalPodAutoscaler":
				target = &m.hpa
			case "NetworkPolicy":
				m.netpols = append(m.netpols, kNetworkPolicy{})
				target = &m.netpols[len(m.netpols)-1]
			}
			if err := node.Decode(target); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
	for kind := range wantAPI {
		n := count[kind]
		switch {
		case n == 0 && kind != "NetworkPolicy":
			t.Errorf("deploy/kubernetes/ has no %s", kind)
		case n > 1 && kind != "Service" && kind != "NetworkPolicy":
			t.Errorf("deploy/kubernetes/ has %d objects of kind %s; the checks expect one", n, kind)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if n := len(m.deployment.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("the Deployment has %d containers, want 1 (naftiko)", n)
	}
	return m
}

func (m *deployManifests) container() *kContainer {
	return &m.deployment.Spec.Template.Spec.Containers[0]
}

func (m *deployManifests) podLabels() map[string]string {
	return m.deployment.Spec.Template.Metadata.Labels
}

// selects says why sel does not select pods labelled labels ("" when it does).
func selects(sel map[string]string, labels map[string]string) string {
	if len(sel) == 0 {
		return "the selector is empty (it would select every pod of the namespace)"
	}
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return fmt.Sprintf("it wants %s=%s, the pods have %s=%q", k, v, k, got)
		}
	}
	return ""
}

// naftikoRun is what `naftiko run -h` says: the flags, and for each
// whether it takes a value.
type naftikoRun struct {
	help  string
	flags map[string]bool // name -> takes a value
}

var helpFlagLine = regexp.MustCompile(`(?m)^  -([A-Za-z0-9][A-Za-z0-9_-]*)(?: (\S+))?(?:\t|$)`)

func naftikoRunHelp(t *testing.T) naftikoRun {
	t.Helper()
	out, err := exec.Command(naftikoBin, "run", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("naftiko run -h: %v\n%s", err, out)
	}
	r := naftikoRun{help: string(out), flags: map[string]bool{}}
	for _, m := range helpFlagLine.FindAllStringSubmatch(r.help, -1) {
		r.flags[m[1]] = m[2] != ""
	}
	// Guard the parser itself: a bool and a value flag naftiko is known to have.
	if takes, ok := r.flags["allow-unauthenticated"]; !ok || takes {
		t.Fatalf("could not read the flags of `naftiko run -h` (allow-unauthenticated: known %v, takes a value %v):\n%s", ok, takes, out)
	}
	if !r.flags["listen"] || !r.flags["admin"] {
		t.Fatalf("could not read the flags of `naftiko run -h` (listen, admin):\n%s", out)
	}
	return r
}

// flagDefault is the "(default X)" `naftiko run -h` prints for a flag.
func (r naftikoRun) flagDefault(name string) string {
	re := regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(name) + `\b.*\n(?:    \t.*\n?)*`)
	if m := regexp.MustCompile(`\(default ([^)]*)\)`).FindStringSubmatch(re.FindString(r.help)); m != nil {
		return m[1]
	}
	return ""
}

type flagUse struct{ name, value string }

// runArgs is a `naftiko run` argument list, read as Go's flag package reads it.
type runArgs struct {
	flags []flagUse
	paths []string
}

func (a runArgs) values(name string) []string {
	var out []string
	for _, f := range a.flags {
		if f.name == name {
			out = append(out, f.value)
		}
	}
	return out
}

func (a runArgs) has(name string) bool {
	return slices.ContainsFunc(a.flags, func(f flagUse) bool { return f.name == name })
}

// parseRunArgs reads args (what follows `naftiko run`) and reports, as
// errors of t, every flag `naftiko run` does not have and a value flag
// without its value.
func parseRunArgs(t *testing.T, where string, args []string, r naftikoRun) runArgs {
	t.Helper()
	var out runArgs
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out.paths = append(out.paths, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			out.paths = append(out.paths, args[i:]...)
			break
		}
		name, value, inline := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		takes, ok := r.flags[name]
		switch {
		case !ok:
			t.Errorf("%s: %q is not a flag of `naftiko run` (it has %v)", where, a, slices.Sorted(maps.Keys(r.flags)))
		case takes && !inline:
			if i+1 == len(args) {
				t.Errorf("%s: %s wants a value", where, a)
				break
			}
			i++
			value = args[i]
		}
		out.flags = append(out.flags, flagUse{name, value})
	}
	return out
}

// dockerfile is deploy/Dockerfile, read as a Dockerfile is.
type dockerInstr struct {
	line int
	cmd  string // upper case
	args string
}

type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

func parseDockerfile(t *testing.T) []dockerStage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(deployDir(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		stages  []dockerStage
		pending string
		start   int
	)
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && pending == "" {
			continue // comments end no instruction, even within a continuation
		}
		if pending == "" {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		cmd, rest, _ := strings.Cut(full, " ")
		in := dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile:%d: %s before FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: %d stage(s), want a build stage and a run stage", len(stages))
	}
	return stages
}

func (s dockerStage) all(cmd string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// exec reads the one instruction cmd of the stage in exec (JSON) form: the
// run stage has no shell to run a shell form with.
func (s dockerStage) exec(t *testing.T, cmd string) []string {
	t.Helper()
	ins := s.all(cmd)
	if len(ins) != 1 {
		t.Fatalf("Dockerfile: the run stage has %d %s instructions, want 1", len(ins), cmd)
	}
	var out []string
	if err := json.Unmarshal([]byte(ins[0].args), &out); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s: want the exec form [\"...\", ...] (distroless has no shell): %v", ins[0].line, cmd, ins[0].args, err)
	}
	return out
}

// kubeletConfigMap lays out cm's data as the kubelet mounts a ConfigMap
// volume: the files in a timestamped hidden folder, a ..data link to it,
// and a link per key. It returns the folder.
func kubeletConfigMap(t *testing.T, cm kConfigMap) string {
	t.Helper()
	dir := t.TempDir()
	ts := "..2026_01_02_03_04_05.000000001"
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, ts, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// deployedCapability is the capability the ConfigMap holds, parsed.
func deployedCapability(t *testing.T, m *deployManifests) (name string, doc *spec.Document) {
	t.Helper()
	if len(m.configMap.Data) != 1 {
		t.Fatalf("ConfigMap %q has %d keys, want 1 (the seed)", m.configMap.Metadata.Name, len(m.configMap.Data))
	}
	for k, v := range m.configMap.Data {
		name = k
		doc, diags := spec.Parse(k, []byte(v))
		if doc == nil || doc.Capability == nil || diags.HasErrors() {
			t.Fatalf("ConfigMap key %s does not parse as a capability: %v", k, diags)
		}
		return name, doc
	}
	panic("unreachable")
}

// envRead is every environment variable the capability's binds read.
func envRead(doc *spec.Document) []string {
	var out []string
	all := append([]spec.Bind(nil), doc.Binds...)
	all = append(all, doc.Capability.Binds...)
	for _, b := range all {
		if b.Location != "" {
			continue // read from a file, not the environment
		}
		for _, kv := range b.Keys {
			out = append(out, kv.Value)
		}
	}
	return out
}

func hostPort(t *testing.T, where, hp string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(hp)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, hp, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n <= 0 || n > 65535 {
		t.Fatalf("%s: %q: port %q is not a fixed port", where, hp, p)
	}
	return h, n
}

// deployPorts is what the arguments bind: per --listen namespace, and the
// admin listener.
type deployPorts struct {
	listen map[string]int
	admin  int
}

func argPorts(t *testing.T, args runArgs) deployPorts {
	t.Helper()
	p := deployPorts{listen: map[string]int{}}
	for _, v := range args.values("listen") {
		ns, hp, _ := strings.Cut(v, "=")
		h, n := hostPort(t, "--listen "+v, hp)
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			t.Errorf("--listen %s: a loopback address is unreachable from outside the pod", v)
		}
		p.listen[ns] = n
	}
	if a := args.values("admin"); len(a) == 1 {
		h, n := hostPort(t, "--admin", a[0])
		if ip := net.ParseIP(h); h == "localhost" || ip != nil && ip.IsLoopback() {
			t.Errorf("--admin %s: the kubelet probes the pod IP; a loopback admin listener fails every probe", a[0])
		}
		p.admin = n
	} else {
		t.Fatalf("the arguments give --admin %d times, want once (the probes need it)", len(a))
	}
	return p
}

// resolvePort turns a port reference (a number, or a container port name)
// into a number, or 0.
func (m *deployManifests) resolvePort(ref string) int {
	if n, err := strconv.Atoi(ref); err == nil {
		return n
	}
	for _, p := range m.container().Ports {
		if p.Name == ref {
			return p.ContainerPort
		}
	}
	return 0
}

// TestDeployLabelsAndSelectors: every selector selects the Deployment's
// pods, and every reference names an object that is there.
func TestDeployLabelsAndSelectors(t *testing.T) {
	m := loadDeployManifests(t)
	d := &m.deployment
	pods := m.podLabels()
	if why := selects(d.Spec.Selector.MatchLabels, pods); why != "" {
		t.Errorf("Deployment %q: spec.selector does not select its own pod template: %s", d.Metadata.Name, why)
	}
	if len(d.Spec.Selector.MatchExpressions) > 0 {
		t.Errorf("Deployment %q: matchExpressions are not checked here; use matchLabels", d.Metadata.Name)
	}
	for _, s := range m.services {
		if why := selects(s.Spec.Selector, pods); why != "" {
			t.Errorf("Service %q selects no naftiko pod: %s", s.Metadata.Name, why)
		}
	}
	if why := selects(m.pdb.Spec.Selector.MatchLabels, pods); why != "" {
		t.Errorf("PodDisruptionBudget %q does not select the Deployment's pods: %s", m.pdb.Metadata.Name, why)
	}
	for _, tsc := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if why := selects(tsc.LabelSelector.MatchLabels, pods); why != "" {
			t.Errorf("Deployment %q: a topologySpreadConstraint does not select its pods: %s", d.Metadata.Name, why)
		}
	}
	for _, np := range m.netpols {
		if why := selects(np.Spec.PodSelector.MatchLabels, pods); why != "" {
			t.Errorf("NetworkPolicy %q does not select the naftiko pods: %s", np.Metadata.Name, why)
		}
	}
	ref := m.hpa.Spec.ScaleTargetRef
	if ref.APIVersion != d.APIVersion || ref.Kind != d.Kind || ref.Name != d.Metadata.Name {
		t.Errorf("HorizontalPodAutoscaler %q scales %s %s %q, want %s %s %q", m.hpa.Metadata.Name,
			ref.APIVersion, ref.Kind, ref.Name, d.APIVersion, d.Kind, d.Metadata.Name)
	}
	// The ConfigMap volume and the Secret references.
	c := m.container()
	var cmVolumes []string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			cmVolumes = append(cmVolumes, v.Name)
			if v.ConfigMap.Name != m.configMap.Metadata.Name {
				t.Errorf("volume %q mounts ConfigMap %q; deploy/kubernetes/ defines %q", v.Name, v.ConfigMap.Name, m.configMap.Metadata.Name)
			}
			if len(v.ConfigMap.Items) > 0 {
				t.Errorf("volume %q picks items of the ConfigMap: every capability file in it should be served", v.Name)
			}
		}
	}
	if len(cmVolumes) != 1 {
		t.Errorf("the pod has %d ConfigMap volumes, want 1 (the capabilities)", len(cmVolumes))
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != m.secret.Metadata.Name {
			t.Errorf("env %s comes from Secret %q; deploy/kubernetes/ defines %q", e.Name, e.ValueFrom.SecretKeyRef.Name, m.secret.Metadata.Name)
		}
	}
}

// TestDeployArgsAreNaftikoRunFlags: the image's ENTRYPOINT and CMD and the
// Deployment's args are one `naftiko run` command line, every flag of which
// naftiko has, every --listen naming a block of the ConfigMap's
// capability, and the path the capabilities are mounted at.
func TestDeployArgsAreNaftikoRunFlags(t *testing.T) {
	m := loadDeployManifests(t)
	r := naftikoRunHelp(t)
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	entry, cmd := final.exec(t, "ENTRYPOINT"), final.exec(t, "CMD")
	if len(entry) != 2 || entry[1] != "run" {
		t.Fatalf("Dockerfile: ENTRYPOINT %q, want [BINARY, \"run\"]", entry)
	}
	c := m.container()
	if len(c.Command) > 0 && !slices.Equal(c.Command, entry) {
		t.Errorf("the Deployment's command %q replaces the image's ENTRYPOINT %q", c.Command, entry)
	}
	if !slices.Equal(c.Args, cmd) {
		t.Errorf("the Deployment's args differ from the Dockerfile's CMD (keep them equal, so `docker run` and the pods behave alike):\n  args: %q\n  CMD:  %q", c.Args, cmd)
	}
	dockerArgs := parseRunArgs(t, "Dockerfile CMD", cmd, r)
	args := parseRunArgs(t, "Deployment args", c.Args, r)

	// Every --listen names an exposes block of the deployed capability, and
	// every block that listens on HTTP gets one (else it binds the file's
	// address: loopback, unreachable).
	_, doc := deployedCapability(t, m)
	listened := map[string]bool{}
	for _, v := range args.values("listen") {
		ns, _, ok := strings.Cut(v, "=")
		if !ok {
			t.Errorf("--listen %q: want NAMESPACE=HOST:PORT", v)
		}
		listened[ns] = true
	}
	var blocks []string
	for _, ex := range doc.Capability.Exposes {
		if ex.Type == "rest" || ex.Type == "mcp" && ex.Transport != "stdio" {
			blocks = append(blocks, ex.Namespace)
			if !listened[ex.Namespace] {
				t.Errorf("exposes block %q of the ConfigMap's capability has no --listen: it would bind its file's address, loopback by default", ex.Namespace)
			}
		}
	}
	for ns := range listened {
		if !slices.Contains(blocks, ns) {
			t.Errorf("--listen %s=...: the ConfigMap's capability has no such exposes block (it has %v); naftiko would refuse to start", ns, blocks)
		}
	}

	// A key on the command line is in the pod spec and in /proc for all to read.
	for _, a := range []runArgs{args, dockerArgs} {
		if a.has("link-key") {
			t.Errorf("--link-key on the command line: give the key through NAFTIKO_LINK_KEY from the Secret")
		}
	}

	// The path naftiko serves is where the ConfigMap is mounted, and where
	// the image puts the seed.
	if len(args.paths) != 1 {
		t.Fatalf("the args serve %q; want one path, the capabilities folder", args.paths)
	}
	served := args.paths[0]
	var mounted bool
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == served {
			mounted = true
			if !vm.ReadOnly || vm.SubPath != "" {
				t.Errorf("volume mount %s: want readOnly and no subPath (a subPath mount never sees ConfigMap updates)", vm.MountPath)
			}
		}
	}
	if !mounted {
		t.Errorf("the args serve %s, where no volume is mounted", served)
	}
	var copied bool
	for _, in := range final.all("COPY") {
		f := strings.Fields(in.args)
		if dest := f[len(f)-1]; strings.HasPrefix(path.Clean(dest)+"/", served+"/") {
			copied = true
		}
	}
	if !copied {
		t.Errorf("the Dockerfile's run stage copies no capability into %s, the path its CMD serves", served)
	}
}

// TestDeployPortsAgree: the ports the arguments bind are the container's
// ports, the image's EXPOSE, what the Services and the NetworkPolicy name,
// and the admin port stays out of the public Service.
func TestDeployPortsAgree(t *testing.T) {
	m := loadDeployManifests(t)
	r := naftikoRunHelp(t)
	c := m.container()
	ports := argPorts(t, parseRunArgs(t, "Deployment args", c.Args, r))

	want := []int{ports.admin}
	for _, n := range ports.listen {
		want = append(want, n)
	}
	slices.Sort(want)
	var got []int
	names := map[string]bool{}
	for _, p := range c.Ports {
		got = append(got, p.ContainerPort)
		if p.Name == "" || names[p.Name] {
			t.Errorf("containerPort %d: want a unique name (the probes, Services and NetworkPolicy refer to ports by name)", p.ContainerPort)
		}
		names[p.Name] = true
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("containerPorts %v, but the args bind %v (--listen %v, --admin %d)", got, want, ports.listen, ports.admin)
	}

	final := parseDockerfile(t)
	var exposed []int
	for _, in := range final[len(final)-1].all("EXPOSE") {
		for _, f := range strings.Fields(in.args) {
			n, err := strconv.Atoi(strings.TrimSuffix(f, "/tcp"))
			if err != nil {
				t.Errorf("Dockerfile:%d: EXPOSE %s", in.line, f)
			}
			exposed = append(exposed, n)
		}
	}
	slices.Sort(exposed)
	if !slices.Equal(exposed, want) {
		t.Errorf("Dockerfile EXPOSE %v, but its CMD binds %v", exposed, want)
	}

	appPorts := map[int]bool{}
	for _, n := range ports.listen {
		appPorts[n] = true
	}
	var public *kService
	for i, s := range m.services {
		if s.Metadata.Name == m.deployment.Metadata.Name {
			public = &m.services[i]
		}
		for _, p := range s.Spec.Ports {
			n := m.resolvePort(p.TargetPort)
			if p.TargetPort == "" {
				n = p.Port // Kubernetes' default
			}
			switch {
			case n == 0:
				t.Errorf("Service %q port %s: targetPort %q is no containerPort of the Deployment", s.Metadata.Name, p.Name, p.TargetPort)
			case !appPorts[n] && n != ports.admin:
				t.Errorf("Service %q port %s: targetPort %d is not a port naftiko listens on (%v)", s.Metadata.Name, p.Name, n, want)
			case n == ports.admin:
				if s.Spec.Type != "" && s.Spec.Type != "ClusterIP" {
					t.Errorf("Service %q publishes the admin port (%d) as %s: the admin listener has no authentication; keep it in-cluster", s.Metadata.Name, n, s.Spec.Type)
				}
				if len(s.Spec.Ports) > 1 {
					t.Errorf("Service %q mixes the admin port (%d) with others: an ingress rule on it could publish /status and /metrics", s.Metadata.Name, n)
				}
			}
		}
	}
	if public == nil {
		t.Fatalf("no Service named %q (the public one, beside the Deployment)", m.deployment.Metadata.Name)
	}
	var targeted []int
	for _, p := range public.Spec.Ports {
		targeted = append(targeted, m.resolvePort(cmp.Or(p.TargetPort, strconv.Itoa(p.Port))))
	}
	for n := range appPorts {
		if !slices.Contains(targeted, n) {
			t.Errorf("the public Service %q does not route to port %d, where a block listens", public.Metadata.Name, n)
		}
	}
	if slices.Contains(targeted, ports.admin) {
		t.Errorf("the public Service %q routes to the admin port %d: /status and /metrics have no authentication", public.Metadata.Name, ports.admin)
	}

	if p := m.deployment.Spec.Template.Metadata.Annotations["prometheus.io/port"]; p != "" && p != strconv.Itoa(ports.admin) {
		t.Errorf("annotation prometheus.io/port %s, but --admin binds %d", p, ports.admin)
	}
	for _, np := range m.netpols {
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if n := m.resolvePort(p.Port); !appPorts[n] && n != ports.admin {
					t.Errorf("NetworkPolicy %q admits port %q, which naftiko does not listen on", np.Metadata.Name, p.Port)
				}
			}
		}
	}
}

// TestDeployProbesAnswer runs the Deployment's own arguments against the
// ConfigMap's capability, mounted as the kubelet mounts it, with only the
// addresses moved to loopback and the upstream to a fake, and GETs every
// path a probe (or the Prometheus annotation) uses from the admin listener.
func TestDeployProbesAnswer(t *testing.T) {
	m := loadDeployManifests(t)
	r := naftikoRunHelp(t)
	c := m.container()
	args := parseRunArgs(t, "Deployment args", c.Args, r)
	ports := argPorts(t, args)

	type probe struct{ what, path string }
	var probes []probe
	for _, p := range []struct {
		what string
		pr   *kProbe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}} {
		if p.pr == nil || p.pr.HTTPGet == nil {
			t.Errorf("the container has no %s with httpGet", p.what)
			continue
		}
		if n := m.resolvePort(p.pr.HTTPGet.Port); n != ports.admin {
			t.Errorf("%s probes port %q (%d); the admin listener (--admin) is on %d", p.what, p.pr.HTTPGet.Port, n, ports.admin)
		}
		probes = append(probes, probe{p.what, p.pr.HTTPGet.Path})
	}
	if c.LivenessProbe != nil && c.ReadinessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet != nil &&
		c.LivenessProbe.HTTPGet.Path == c.ReadinessProbe.HTTPGet.Path {
		t.Errorf("liveness and readiness probe the same path %s: a draining pod (unready) would be killed", c.LivenessProbe.HTTPGet.Path)
	}
	if p := m.deployment.Spec.Template.Metadata.Annotations["prometheus.io/path"]; p != "" {
		probes = append(probes, probe{"prometheus.io/path", p})
	}

	// The same arguments, bound to loopback.
	up := newFakeFHIR(t)
	run := []string{"run", "--upstream", "provider-access-patient=" + up.URL}
	for _, f := range args.flags {
		switch f.name {
		case "listen":
			ns, _, _ := strings.Cut(f.value, "=")
			run = append(run, "--listen", ns+"=127.0.0.1:0")
		case "admin":
			run = append(run, "--admin", "127.0.0.1:0")
		default:
			if r.flags[f.name] {
				run = append(run, "--"+f.name, f.value)
			} else {
				run = append(run, "--"+f.name)
			}
		}
	}
	run = append(run, kubeletConfigMap(t, m.configMap))
	var env []string
	for _, e := range c.Env {
		switch e.Name {
		case "NAFTIKO_LINK_KEY":
			env = append(env, e.Name+"="+strings.Repeat("5a", 32))
		default:
			env = append(env, e.Name+"="+testToken)
		}
	}
	p := startNaftiko(t, env, run...)
	urls := p.waitListening(t, len(ports.listen)+1)
	admin, ok := urls[""]
	if !ok {
		t.Fatalf("no admin listener started:\n%s", p.stderr)
	}
	admin = origin(t, admin)
	for _, pr := range probes {
		if resp, body := get(t, admin+pr.path); resp.StatusCode != 200 {
			t.Errorf("%s: GET %s = %d, want 200 (%s)", pr.what, pr.path, resp.StatusCode, body)
		}
	}
	// The REST block serves, too (the seed's metadata route).
	for ns, u := range urls {
		if strings.HasSuffix(ns, "-rest") {
			if resp, body := get(t, origin(t, u)+"/v1/metadata"); resp.StatusCode != 200 {
				t.Errorf("%s: GET /v1/metadata = %d, want 200 (%s)", ns, resp.StatusCode, body)
			}
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(p.stderr.String()), "{") && slices.Contains(args.values("log-format"), "json") {
		t.Errorf("--log-format json, but the log is not JSON:\n%s", p.stderr)
	}
}

// TestDeployEnvIsRead: every variable the Deployment sets is one naftiko or
// the capability reads, every variable the capability reads is set, all
// from the Secret, whose values are placeholders that cannot run.
func TestDeployEnvIsRead(t *testing.T) {
	m := loadDeployManifests(t)
	r := naftikoRunHelp(t)
	_, doc := deployedCapability(t, m)
	read := envRead(doc)
	c := m.container()
	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom sets variables nobody checks; name each with env")
	}
	set := map[string]bool{}
	for _, e := range c.Env {
		set[e.Name] = true
		byCapability := slices.Contains(read, e.Name)
		byNaftiko := strings.Contains(r.help, "$"+e.Name)
		if !byCapability && !byNaftiko {
			t.Errorf("env %s: neither the ConfigMap's capability (binds %v) nor `naftiko run -h` reads it", e.Name, read)
		}
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("env %s: want valueFrom.secretKeyRef (credentials and keys live in the Secret, not in the pod spec)", e.Name)
			continue
		}
		key := e.ValueFrom.SecretKeyRef.Key
		v, ok := m.secret.StringData[key]
		if !ok {
			t.Errorf("env %s: Secret %q has no stringData key %q", e.Name, m.secret.Metadata.Name, key)
			continue
		}
		if !strings.Contains(v, "REPLACE") {
			t.Errorf("Secret %q: %s = %q does not look like a placeholder (the template must hold no real value: put REPLACE in it)", m.secret.Metadata.Name, key, v)
		}
		if e.Name == "NAFTIKO_LINK_KEY" {
			if _, err := continuation.ParseKey(v); err == nil {
				t.Errorf("Secret %q: the placeholder link key %q is a valid key: pods applied with the template unchanged would run with a published key", m.secret.Metadata.Name, v)
			}
		}
	}
	for _, v := range read {
		if !set[v] {
			t.Errorf("the ConfigMap's capability reads %s, which the Deployment does not set: naftiko would refuse to start", v)
		}
	}
	if !set["NAFTIKO_LINK_KEY"] && m.replicas() > 1 {
		t.Errorf("several replicas without NAFTIKO_LINK_KEY: each seals page cursors with a random key, and a cursor fails on another replica")
	}
	if len(m.secret.Data) > 0 {
		t.Errorf("Secret %q: use stringData (readable placeholders), not data", m.secret.Metadata.Name)
	}
	for k := range m.secret.StringData {
		if !slices.ContainsFunc(c.Env, func(e kEnvVar) bool { return e.secretKey() == k }) {
			t.Errorf("Secret %q: key %s is used by nothing", m.secret.Metadata.Name, k)
		}
	}
}

// replicas is the Deployment's replica count (1 when unset, as in Kubernetes).
func (m *deployManifests) replicas() int {
	if m.deployment.Spec.Replicas == nil {
		return 1
	}
	return *m.deployment.Spec.Replicas
}

// TestDeployConfigMapIsTheSeed: the ConfigMap holds the seed byte for byte,
// and naftiko validate accepts it.
func TestDeployConfigMapIsTheSeed(t *testing.T) {
	m := loadDeployManifests(t)
	seed, err := os.ReadFile(seedPath(t))
	if err != nil {
		t.Fatal(err)
	}
	name, _ := deployedCapability(t, m)
	if name != filepath.Base(seedPath(t)) {
		t.Errorf("ConfigMap key %q, want %q (the seed's file name)", name, filepath.Base(seedPath(t)))
	}
	if got := m.configMap.Data[name]; got != string(seed) {
		gl, sl := strings.Split(got, "\n"), strings.Split(string(seed), "\n")
		for i := range max(len(gl), len(sl)) {
			var g, s string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(sl) {
				s = sl[i]
			}
			if g != s {
				t.Errorf("ConfigMap %q differs from capabilities/%s at line %d:\n  ConfigMap: %q\n  seed:      %q\n(regenerate it: see the comment at the top of configmap.yaml)", m.configMap.Metadata.Name, name, i+1, g, s)
				break
			}
		}
		if len(got) != len(seed) {
			t.Errorf("ConfigMap holds %d bytes, the seed %d", len(got), len(seed))
		}
	}
	dir := kubeletConfigMap(t, m.configMap)
	out, err := exec.Command(naftikoBin, "validate", dir).CombinedOutput()
	if err != nil {
		t.Errorf("naftiko validate on the ConfigMap, mounted as the kubelet mounts it: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "1 file: 1 valid") {
		t.Errorf("naftiko validate found other than the one capability in the mounted ConfigMap:\n%s", out)
	}
}

// TestDeployDockerfile: the builder's Go is not older than go.mod's, the
// build copies every package the binary needs and builds a static binary,
// and the run stage is distroless, non-root, shell-free, running what was
// built.
func TestDeployDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	root := repoDir(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gm := regexp.MustCompile(`(?m)^go (\S+)\s*$`).FindSubmatch(gomod)
	if gm == nil {
		t.Fatal("go.mod has no go line")
	}
	goMod := "go" + string(gm[1])

	build := stages[0]
	img, tag, _ := strings.Cut(build.from, ":")
	if img != "golang" && !strings.HasSuffix(img, "/golang") {
		t.Fatalf("Dockerfile: the build stage is FROM %s, want golang:VERSION", build.from)
	}
	tv := regexp.MustCompile(`^(\d+\.\d+)(\.\d+)?`).FindStringSubmatch(tag)
	if tv == nil {
		t.Fatalf("Dockerfile: FROM %s: want a Go version in the tag (golang:1.26, not latest)", build.from)
	}
	// golang:1.26 is the newest 1.26.x: compare language versions; a full
	// golang:1.26.7 is compared as it is.
	if tv[2] == "" && goversion.Compare("go"+tv[1], goversion.Lang(goMod)) < 0 ||
		tv[2] != "" && goversion.Compare("go"+tv[0], goMod) < 0 {
		t.Errorf("Dockerfile: FROM %s is older than go.mod's go %s (the golang image sets GOTOOLCHAIN=local: the build would fail)", build.from, gm[1])
	}

	// The build copies go.mod, go.sum and every package directory the
	// binary is made of, each to its own path under WORKDIR.
	copied := map[string]bool{}
	for _, in := range build.all("COPY") {
		f := strings.Fields(in.args)
		if strings.HasPrefix(f[0], "--") {
			continue
		}
		dest := f[len(f)-1]
		for _, src := range f[:len(f)-1] {
			fi, err := os.Stat(filepath.Join(root, src))
			if err != nil {
				t.Errorf("Dockerfile:%d: COPY %s: not in the repository root, the build context (%v)", in.line, src, err)
				continue
			}
			if fi.IsDir() && path.Clean(strings.TrimPrefix(dest, "/src/")) != path.Clean(src) {
				t.Errorf("Dockerfile:%d: COPY %s %s: a folder's contents are copied, so the destination must be ./%s", in.line, src, dest, src)
			}
			copied[path.Clean(src)] = true
		}
	}
	var need []string
	list := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/naftiko")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		if rel, err := filepath.Rel(root, dir); err == nil && !strings.HasPrefix(rel, "..") {
			need = append(need, filepath.ToSlash(rel))
		}
	}
	need = append(need, "go.mod", "go.sum")
	for _, n := range need {
		covered := copied["."]
		for p := n; p != "." && !covered; p = path.Dir(p) {
			covered = copied[p]
		}
		if !covered {
			t.Errorf("Dockerfile: the build stage does not copy %s, which the binary is built from", n)
		}
	}

	var builtTo string
	for _, in := range build.all("RUN") {
		if !strings.Contains(in.args, "go build") {
			continue
		}
		for _, w := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/naftiko"} {
			if !strings.Contains(in.args, w) {
				t.Errorf("Dockerfile:%d: the go build lacks %s (distroless/static needs a static binary)", in.line, w)
			}
		}
		if o := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(in.args); o != nil {
			builtTo = o[1]
		}
	}
	if builtTo == "" {
		t.Fatal("Dockerfile: no `go build -o PATH` in the build stage")
	}

	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static") || !strings.HasSuffix(final.from, ":nonroot") {
		t.Errorf("Dockerfile: the run stage is FROM %s, want gcr.io/distroless/static-debian12:nonroot", final.from)
	}
	if runs := final.all("RUN"); len(runs) > 0 {
		t.Errorf("Dockerfile:%d: RUN in the run stage: distroless has no shell", runs[0].line)
	}
	users := final.all("USER")
	if len(users) == 0 || !regexp.MustCompile(`^(nonroot|65532)(:(nonroot|65532))?$`).MatchString(users[len(users)-1].args) {
		t.Errorf("Dockerfile: the run stage's USER is %v, want nonroot:nonroot", users)
	}
	entry := final.exec(t, "ENTRYPOINT")
	var shipped bool
	for _, in := range final.all("COPY") {
		f := strings.Fields(in.args)
		if f[0] == "--from="+build.name && len(f) == 3 && f[1] == builtTo && f[2] == entry[0] {
			shipped = true
		}
	}
	if !shipped {
		t.Errorf("Dockerfile: ENTRYPOINT runs %s, but the run stage has no COPY --from=%s %s %s", entry[0], build.name, builtTo, entry[0])
	}
}

// TestDeploySecureAndDrains: the pod runs unprivileged on a read-only
// root, is given time to drain, is scaled and disrupted safely, and is
// reachable unauthenticated only through a NetworkPolicy when its
// capability declares no authentication.
func TestDeploySecureAndDrains(t *testing.T) {
	m := loadDeployManifests(t)
	r := naftikoRunHelp(t)
	c := m.container()
	pod := m.deployment.Spec.Template.Spec
	args := parseRunArgs(t, "Deployment args", c.Args, r)

	sc := c.SecurityContext
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	switch {
	case sc == nil:
		t.Fatal("the container has no securityContext")
	case !isTrue(sc.RunAsNonRoot) && (pod.SecurityContext == nil || !isTrue(pod.SecurityContext.RunAsNonRoot)):
		t.Error("securityContext: want runAsNonRoot: true")
	case !isTrue(sc.ReadOnlyRootFilesystem):
		t.Error("securityContext: want readOnlyRootFilesystem: true")
	case !isFalse(sc.AllowPrivilegeEscalation):
		t.Error("securityContext: want allowPrivilegeEscalation: false")
	case isTrue(sc.Privileged):
		t.Error("securityContext: privileged")
	case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
		t.Error("securityContext: want capabilities.drop [ALL] and nothing added")
	}
	if psc := pod.SecurityContext; psc != nil && psc.RunAsUser != nil && *psc.RunAsUser != 65532 {
		t.Errorf("runAsUser %d: the distroless nonroot user is 65532", *psc.RunAsUser)
	}
	if !isFalse(pod.AutomountServiceAccountToken) {
		t.Error("automountServiceAccountToken: want false (naftiko never calls the Kubernetes API)")
	}
	for _, kind := range []string{"requests", "limits"} {
		res := map[string]map[string]string{"requests": c.Resources.Requests, "limits": c.Resources.Limits}[kind]
		for _, rn := range []string{"cpu", "memory"} {
			if res[rn] == "" {
				t.Errorf("resources.%s.%s is not set (the HPA's CPU utilization is relative to the request)", kind, rn)
			}
		}
	}

	// Time to drain: the kubelet waits terminationGracePeriodSeconds from
	// the preStop hook's start, then kills; naftiko needs the pause, then
	// --grace for in-flight requests, then up to 5 s to flush spans (run.go).
	grace, err := time.ParseDuration(cmp.Or(lastOf(args.values("grace")), r.flagDefault("grace")))
	if err != nil {
		t.Fatalf("--grace: %v (default read from -h: %q)", err, r.flagDefault("grace"))
	}
	var pause time.Duration
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	// --drain-delay keeps serving after SIGTERM, before --grace starts.
	drain, err := time.ParseDuration(cmp.Or(lastOf(args.values("drain-delay")), "0s"))
	if err != nil {
		t.Fatalf("--drain-delay: %v", err)
	}
	pause += drain
	need := pause + grace + 5*time.Second
	if tg := pod.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second <= need {
		got := "unset (30)"
		if tg != nil {
			got = strconv.Itoa(*tg)
		}
		t.Errorf("terminationGracePeriodSeconds %s: want more than the preStop pause and --drain-delay (%s) + --grace (%s) + 5 s of telemetry flush = %s", got, pause, grace, need)
	}

	// Replicas, the autoscaler and the disruption budget agree.
	replicas := m.replicas()
	h := m.hpa.Spec
	minR := 1
	if h.MinReplicas != nil {
		minR = *h.MinReplicas
	}
	if replicas < minR || replicas > h.MaxReplicas {
		t.Errorf("Deployment replicas %d outside the HPA's %d..%d", replicas, minR, h.MaxReplicas)
	}
	if minR < 2 {
		t.Errorf("HPA minReplicas %d: want at least 2, so one replica can be disrupted while another serves", minR)
	}
	var cpuMetric bool
	for _, mt := range h.Metrics {
		cpuMetric = cpuMetric || mt.Type == "Resource" && mt.Resource != nil && mt.Resource.Name == "cpu" &&
			mt.Resource.Target.Type == "Utilization" && mt.Resource.Target.AverageUtilization != nil
	}
	if !cpuMetric {
		t.Error("the HPA has no CPU utilization metric")
	}
	pdb := m.pdb.Spec
	switch {
	case (pdb.MinAvailable == nil) == (pdb.MaxUnavailable == nil):
		t.Error("PodDisruptionBudget: want exactly one of minAvailable and maxUnavailable")
	case pdb.MaxUnavailable != nil:
		if n, err := strconv.Atoi(*pdb.MaxUnavailable); err == nil && (n < 1 || n >= minR) {
			t.Errorf("PodDisruptionBudget maxUnavailable %d: want at least 1 (0 blocks every drain) and below minReplicas %d", n, minR)
		}
	case pdb.MinAvailable != nil:
		if n, err := strconv.Atoi(*pdb.MinAvailable); err == nil && n >= minR {
			t.Errorf("PodDisruptionBudget minAvailable %d with minReplicas %d: no pod could ever be evicted", n, minR)
		}
	}

	// --allow-unauthenticated exactly when a block of the deployed
	// capability has no authentication, and then a NetworkPolicy.
	_, doc := deployedCapability(t, m)
	var open []string
	for _, ex := range doc.Capability.Exposes {
		if (ex.Type == "rest" || ex.Type == "mcp" && ex.Transport != "stdio" || ex.Type == "control") && ex.Authentication == nil {
			open = append(open, ex.Namespace)
		}
	}
	allow := args.has("allow-unauthenticated")
	switch {
	case len(open) > 0 && !allow:
		t.Errorf("blocks %v declare no authentication and listen on the pod IP: without --allow-unauthenticated naftiko refuses to start", open)
	case len(open) == 0 && allow:
		t.Errorf("every block of the ConfigMap's capability declares authentication: drop --allow-unauthenticated (and its comments) from the Deployment and the Dockerfile")
	}
	if !allow {
		return
	}
	ports := argPorts(t, args)
	if len(m.netpols) == 0 {
		t.Fatalf("--allow-unauthenticated with no NetworkPolicy: anything in the cluster reads %v", open)
	}
	guarded := func(port int) []string {
		var why []string
		var ingress bool
		for _, np := range m.netpols {
			if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
				continue
			}
			ingress = true
			for _, rule := range np.Spec.Ingress {
				admits := len(rule.Ports) == 0
				for _, p := range rule.Ports {
					admits = admits || m.resolvePort(p.Port) == port
				}
				if !admits {
					continue
				}
				if len(rule.From) == 0 {
					why = append(why, fmt.Sprintf("NetworkPolicy %q admits port %d from everywhere", np.Metadata.Name, port))
				}
				for _, peer := range rule.From {
					switch {
					case peer.IPBlock != nil && strings.HasSuffix(peer.IPBlock.CIDR, "/0"):
						why = append(why, fmt.Sprintf("NetworkPolicy %q admits port %d from %s", np.Metadata.Name, port, peer.IPBlock.CIDR))
					case peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0 &&
						(peer.PodSelector == nil || len(peer.PodSelector.MatchLabels) == 0):
						why = append(why, fmt.Sprintf("NetworkPolicy %q admits port %d from every namespace", np.Metadata.Name, port))
					}
				}
			}
		}
		if !ingress {
			why = append(why, "no NetworkPolicy has policyTypes Ingress")
		}
		return why
	}
	for _, n := range append(slices.Collect(maps.Values(ports.listen)), ports.admin) {
		for _, why := range guarded(n) {
			t.Errorf("--allow-unauthenticated: %s", why)
		}
	}
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

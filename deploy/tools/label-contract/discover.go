package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	apiv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

// discover runs Prometheus's pod and endpoints discoverers over the given objects and returns the
// target groups each role yields, keyed by role.
func discover(raw []json.RawMessage) (map[kubernetes.Role][]*targetgroup.Group, error) {
	out := map[kubernetes.Role][]*targetgroup.Group{kubernetes.RolePod: nil, kubernetes.RoleEndpoint: nil}
	if len(raw) == 0 {
		return out, nil
	}
	var objs []runtime.Object
	for i, r := range raw {
		var meta metav1.TypeMeta
		if err := json.Unmarshal(r, &meta); err != nil {
			return nil, fmt.Errorf("object %d: %w", i, err)
		}
		var o runtime.Object
		switch meta.Kind {
		case "Pod":
			o = &apiv1.Pod{}
		case "Service":
			o = &apiv1.Service{}
		case "Endpoints":
			o = &apiv1.Endpoints{}
		default:
			return nil, fmt.Errorf("object %d: kind %q is not Pod, Service or Endpoints", i, meta.Kind)
		}
		if err := json.Unmarshal(r, o); err != nil {
			return nil, fmt.Errorf("object %d (%s): %w", i, meta.Kind, err)
		}
		objs = append(objs, o)
	}
	// client-go's fake clientset does not answer the streaming list (WatchListClient, on by default):
	// reflectors would wait for its initial events forever. The classic LIST+WATCH it serves.
	if err := os.Setenv("KUBE_FEATURE_WatchListClient", "false"); err != nil {
		return nil, err
	}
	client := fake.NewSimpleClientset(objs...)
	ctx := context.Background()
	informer := func(obj runtime.Object, list func(metav1.ListOptions) (runtime.Object, error), w func(metav1.ListOptions) (watch.Interface, error)) cache.SharedIndexInformer {
		return cache.NewSharedIndexInformer(&cache.ListWatch{ListFunc: list, WatchFunc: w}, obj, 0, cache.Indexers{})
	}
	pods := func() cache.SharedIndexInformer {
		return informer(&apiv1.Pod{},
			func(o metav1.ListOptions) (runtime.Object, error) { return client.CoreV1().Pods("").List(ctx, o) },
			func(o metav1.ListOptions) (watch.Interface, error) { return client.CoreV1().Pods("").Watch(ctx, o) })
	}
	services := informer(&apiv1.Service{},
		func(o metav1.ListOptions) (runtime.Object, error) { return client.CoreV1().Services("").List(ctx, o) },
		func(o metav1.ListOptions) (watch.Interface, error) { return client.CoreV1().Services("").Watch(ctx, o) })
	endpoints := informer(&apiv1.Endpoints{},
		func(o metav1.ListOptions) (runtime.Object, error) { return client.CoreV1().Endpoints("").List(ctx, o) },
		func(o metav1.ListOptions) (watch.Interface, error) {
			return client.CoreV1().Endpoints("").Watch(ctx, o)
		})

	events := promclient.NewCounterVec(promclient.CounterOpts{Name: "events"}, []string{"role", "event"})
	podsForPodRole, podsForEndpoints := pods(), pods()
	roles := map[kubernetes.Role]interface {
		Run(context.Context, chan<- []*targetgroup.Group)
	}{
		kubernetes.RolePod:      kubernetes.NewPod(nil, podsForPodRole, nil, nil, nil, nil, false, false, false, events),
		kubernetes.RoleEndpoint: kubernetes.NewEndpoints(nil, endpoints, services, podsForEndpoints, nil, nil, nil, nil, false, false, false, events),
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, inf := range []cache.SharedIndexInformer{podsForPodRole, podsForEndpoints, services, endpoints} {
		go inf.Run(runCtx.Done())
	}
	for role, d := range roles {
		ch := make(chan []*targetgroup.Group)
		go d.Run(runCtx, ch)
		bySource := map[string]*targetgroup.Group{}
		// The discoverers send one group per object once their caches are synced, then nothing until
		// an object changes: collect until they have been quiet for a while.
		quiet := time.NewTimer(2 * time.Second)
	collect:
		for {
			select {
			case gs := <-ch:
				for _, g := range gs {
					bySource[g.Source] = g
				}
				quiet.Reset(300 * time.Millisecond)
			case <-quiet.C:
				break collect
			}
		}
		for _, g := range bySource {
			out[role] = append(out[role], g)
		}
	}
	return out, nil
}
